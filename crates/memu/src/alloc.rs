//! The shim's private allocator.
//!
//! The fault handler must never touch memory that it is itself responsible for
//! serving: a fault there would wait on the very thread that has to resolve it.
//! glibc's malloc hands out memory from the main heap and arenas, which the shim
//! registers with userfaultfd, so all Rust allocations of the shim come from one
//! private reservation that is never registered. Power-of-two size classes with
//! free lists under a spin lock: allocations here are few and small (page
//! tables, queues) and this is not on the per-fault path.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Virtual size of the reservation (NORESERVE: only touched pages cost memory).
pub const ARENA_BYTES: u64 = 1 << 38;

static BASE: AtomicU64 = AtomicU64::new(0);
static BUMP: AtomicU64 = AtomicU64::new(0);
static LOCK: AtomicBool = AtomicBool::new(false);
static mut FREE: [u64; 64] = [0; 64];

pub struct Arena;

/// The address range of the arena, so region scans can exclude it.
pub fn range() -> (u64, u64) {
    ensure_base();
    let b = BASE.load(Ordering::Acquire);
    (b, b + ARENA_BYTES)
}

fn ensure_base() {
    if BASE.load(Ordering::Acquire) != 0 {
        return;
    }
    lock();
    if BASE.load(Ordering::Acquire) == 0 {
        let p = unsafe {
            crate::sys::mmap(
                0,
                ARENA_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        match p {
            Ok(p) => {
                BUMP.store(p, Ordering::Relaxed);
                BASE.store(p, Ordering::Release);
            }
            Err(_) => {
                crate::sys::write_all(2, b"ddclab-memu: cannot reserve the shim arena\n");
                unsafe { libc::_exit(70) };
            }
        }
    }
    unlock();
}

fn lock() {
    while LOCK.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
        std::hint::spin_loop();
    }
}
fn unlock() {
    LOCK.store(false, Ordering::Release);
}

fn class_of(layout: &Layout) -> usize {
    let size = layout.size().max(layout.align()).max(16);
    (usize::BITS - (size - 1).leading_zeros()) as usize
}

unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ensure_base();
        let class = class_of(&layout);
        let size = 1u64 << class;
        lock();
        let head = FREE[class];
        let p = if head != 0 {
            FREE[class] = *(head as *const u64);
            head
        } else {
            let align = size.min(4096);
            let cur = BUMP.load(Ordering::Relaxed);
            let p = (cur + align - 1) & !(align - 1);
            if p + size > BASE.load(Ordering::Relaxed) + ARENA_BYTES {
                unlock();
                return std::ptr::null_mut();
            }
            BUMP.store(p + size, Ordering::Relaxed);
            p
        };
        unlock();
        p as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let class = class_of(&layout);
        lock();
        *(ptr as *mut u64) = FREE[class];
        FREE[class] = ptr as u64;
        unlock();
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        if class_of(&new_layout) == class_of(&layout) {
            return ptr;
        }
        let q = self.alloc(new_layout);
        if !q.is_null() {
            std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        q
    }
}
