//! The LD_PRELOAD side: the constructor that starts the emulator, the
//! interposed memory calls, and fork handling.
//!
//! Interposed: malloc/calloc/realloc/free (forwarded to the program's own
//! allocator; large results trigger an immediate lookup of the mapping they
//! came from), mmap/mmap64 (new private anonymous mappings are registered at
//! once), mremap (a registered mapping that grew keeps its registration; the
//! kernel reports moves as REMAP events), munmap (reported as UNMAP events; the
//! wrapper only forwards), brk/sbrk (the heap's new top is registered). glibc's
//! internal calls bypass all of these; the evictor's periodic rescan of
//! /proc/self/maps finds what they create.
//!
//! fork(): the child's copy of the address space is not registered (the
//! userfaultfd is not inherited), so before fork every remote page is brought
//! home and the evictor is held; the child then starts an emulator of its own
//! with the same settings. vfork/posix_spawn share the parent's memory and need
//! nothing.
//!
//! None of these hooks takes the Core lock on the calling (program) thread:
//! the work is handed to the handler thread (`Emu::request`), because the
//! caller's stack may be emulated memory and a fault on it with the lock held
//! would deadlock.

// The exported functions replace libc's: their safety contract is libc's.
#![allow(clippy::missing_safety_doc)]

use crate::config::Config;
use crate::emu::{self, Req, ACTIVE};
use crate::sys;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering};

#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = ctor;

static mut CONFIG: Option<Config> = None;

extern "C" fn ctor() {
    // Find the program's allocator now, before any thread of the program or
    // the emulator can race for it (the first allocation may have done it).
    let _ = next_alloc();
    if std::env::var_os("DDCLAB_MEMU").as_deref() != Some(std::ffi::OsStr::new("1")) {
        return;
    }
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            sys::write_all(2, format!("ddclab-memu: {e}\n").as_bytes());
            unsafe { libc::_exit(125) };
        }
    };
    if let Some(name) = exe_name() {
        if cfg.unemulated.contains(&name) {
            return;
        }
    }
    unsafe {
        CONFIG = Some(cfg.clone());
        libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child));
    }
    emu::start(cfg);
}

/// File name of this process's executable (/proc/self/exe), if readable.
fn exe_name() -> Option<String> {
    let p = std::fs::read_link("/proc/self/exe").ok()?;
    Some(p.file_name()?.to_string_lossy().into_owned())
}

extern "C" fn fork_prepare() {
    if let Some(e) = emu::get() {
        // Hold the evictor off (it holds fork_lock for a whole batch), have
        // the handler bring every page home (this thread must not hold the
        // Core lock while its own stack may fault: see `Emu::request`), then
        // hold the Core lock across fork so the child's copy of the shim's
        // state and allocator is consistent. Nothing can go remote in
        // between: only the evictor evicts.
        e.fork_lock.raw_lock();
        e.request(Req::FetchAll);
        e.core.raw_lock();
    }
}

extern "C" fn fork_parent() {
    if let Some(e) = emu::get() {
        unsafe {
            e.core.raw_unlock();
            e.fork_lock.raw_unlock();
        }
    }
}

extern "C" fn fork_child() {
    if let Some(e) = emu::get() {
        ACTIVE.store(false, Ordering::Release);
        unsafe {
            // The parent's emulator has no threads here; leave its state and
            // start afresh. Its store is empty (everything was fetched).
            // Its descriptors are in this table only if its service threads
            // share the program's (see `private_fd_table`); the numbers may
            // be the program's own files otherwise.
            if !e.private_fds.load(Ordering::Acquire) {
                if e.uffd_intact() {
                    libc::close(e.uffd);
                }
                if e.store_uffd != e.uffd && sys::file_id(e.store_uffd) == e.store_uffd_id {
                    libc::close(e.store_uffd);
                }
                if e.pagemap_fd >= 0 && sys::file_id(e.pagemap_fd) == e.pagemap_id {
                    libc::close(e.pagemap_fd);
                }
            }
            if let Some((s, end)) = e.core.get_mut_unchecked().store.exclude_range() {
                sys::munmap(s, end - s);
            }
            #[allow(static_mut_refs)]
            let cfg = CONFIG.clone().unwrap();
            emu::start(cfg);
        }
    }
}

fn is_private_anon(flags: i32) -> bool {
    flags & libc::MAP_PRIVATE != 0
        && flags & libc::MAP_ANONYMOUS != 0
        && flags & (libc::MAP_STACK | libc::MAP_GROWSDOWN) == 0
}

fn set_errno(e: i32) {
    unsafe { *libc::__errno_location() = e };
}

fn on_new_region(start: u64, len: u64) {
    if let Some(e) = emu::get() {
        let end = (start + len).next_multiple_of(4096);
        e.request(Req::Register(start, end));
    }
}

#[no_mangle]
pub unsafe extern "C" fn mmap(
    addr: *mut libc::c_void,
    len: libc::size_t,
    prot: libc::c_int,
    flags: libc::c_int,
    fd: libc::c_int,
    off: libc::off_t,
) -> *mut libc::c_void {
    match sys::mmap(addr as u64, len as u64, prot, flags, fd, off) {
        Ok(p) => {
            if is_private_anon(flags) && ACTIVE.load(Ordering::Relaxed) {
                on_new_region(p, len as u64);
            }
            p as *mut libc::c_void
        }
        Err(e) => {
            set_errno(e);
            libc::MAP_FAILED
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn mmap64(
    addr: *mut libc::c_void,
    len: libc::size_t,
    prot: libc::c_int,
    flags: libc::c_int,
    fd: libc::c_int,
    off: libc::off_t,
) -> *mut libc::c_void {
    mmap(addr, len, prot, flags, fd, off)
}

#[no_mangle]
pub unsafe extern "C" fn munmap(addr: *mut libc::c_void, len: libc::size_t) -> libc::c_int {
    // Our page table is updated from the UNMAP event, which the kernel delivers
    // (and waits for) before this call returns.
    sys::munmap(addr as u64, len as u64) as libc::c_int
}

/// mremap is variadic in C; on x86-64 the optional fifth argument arrives in a
/// register either way, and it is only read when MREMAP_FIXED is set.
#[no_mangle]
pub unsafe extern "C" fn mremap(
    old: *mut libc::c_void,
    old_len: libc::size_t,
    new_len: libc::size_t,
    flags: libc::c_int,
    new_addr: *mut libc::c_void,
) -> *mut libc::c_void {
    let r = libc::syscall(libc::SYS_mremap, old, old_len, new_len, flags, new_addr);
    if r == -1 {
        return libc::MAP_FAILED;
    }
    if let Some(e) = emu::get() {
        let end = (r as u64 + new_len as u64).next_multiple_of(4096);
        e.request(Req::Remap { old: old as u64, new: r as u64, end });
    }
    r as *mut libc::c_void
}

extern "C" {
    fn __libc_malloc(n: libc::size_t) -> *mut libc::c_void;
    fn __libc_calloc(n: libc::size_t, m: libc::size_t) -> *mut libc::c_void;
    fn __libc_realloc(p: *mut libc::c_void, n: libc::size_t) -> *mut libc::c_void;
    fn __libc_free(p: *mut libc::c_void);
}

/// Allocations at least this large may come from a fresh glibc-internal mmap
/// or heap growth that the interposed calls never see; look them up at once
/// rather than waiting for the periodic rescan, so the program's big buffers
/// are emulated from their first touch.
const LARGE_ALLOC: usize = 64 * 1024;

fn after_large_alloc(p: *mut libc::c_void, n: usize) {
    if p.is_null() || n < LARGE_ALLOC || !ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    if let Some(e) = emu::get() {
        e.request(Req::Check(p as u64, p as u64 + n as u64));
    }
}

// ---------------------------------------------------------------- allocator
//
// The interposed malloc/calloc/realloc/free forward to the *next* definition
// in the symbol search order (dlsym(RTLD_NEXT)), not to glibc's __libc_*:
// a program that links another allocator (Redis links jemalloc, whose
// malloc/free/malloc_usable_size precede glibc's) must keep getting that
// allocator's memory, or its free() receives glibc chunks and crashes.
// The other allocation calls (posix_memalign, memalign, malloc_usable_size,
// ...) are not interposed and reach the program's allocator directly.
//
// Resolution happens once, on the first call. dlsym may itself allocate (its
// error state); calls made while resolving are served from a small static
// bootstrap buffer, which free() recognises and ignores.

type MallocFn = unsafe extern "C" fn(libc::size_t) -> *mut libc::c_void;
type CallocFn = unsafe extern "C" fn(libc::size_t, libc::size_t) -> *mut libc::c_void;
type ReallocFn = unsafe extern "C" fn(*mut libc::c_void, libc::size_t) -> *mut libc::c_void;
type FreeFn = unsafe extern "C" fn(*mut libc::c_void);

struct NextAlloc {
    malloc: MallocFn,
    calloc: CallocFn,
    realloc: ReallocFn,
    free: FreeFn,
}

static NEXT: AtomicPtr<NextAlloc> = AtomicPtr::new(std::ptr::null_mut());
/// Thread id of the thread resolving the next allocator, 0 if none.
static RESOLVER: AtomicI32 = AtomicI32::new(0);

const BOOT_BYTES: usize = 64 * 1024;
#[repr(C, align(16))]
struct Boot(std::cell::UnsafeCell<[u8; BOOT_BYTES]>);
unsafe impl Sync for Boot {}
static BOOT: Boot = Boot(std::cell::UnsafeCell::new([0; BOOT_BYTES]));
static BOOT_USED: AtomicUsize = AtomicUsize::new(0);

fn in_boot(p: *mut libc::c_void) -> bool {
    let b = BOOT.0.get() as usize;
    (p as usize) >= b && (p as usize) < b + BOOT_BYTES
}

/// Bump allocation from the bootstrap buffer, 16-byte aligned, with the size
/// stored in the 16 bytes before the block (for realloc). Null when full.
fn boot_alloc(n: usize) -> *mut libc::c_void {
    let need = 16 + n.next_multiple_of(16);
    let off = BOOT_USED.fetch_add(need, Ordering::Relaxed);
    if off + need > BOOT_BYTES {
        return std::ptr::null_mut();
    }
    unsafe {
        let base = (BOOT.0.get() as *mut u8).add(off);
        (base as *mut usize).write(n);
        base.add(16) as *mut libc::c_void
    }
}

fn boot_size(p: *mut libc::c_void) -> usize {
    unsafe { ((p as *mut u8).sub(16) as *mut usize).read() }
}

unsafe fn sym(name: &std::ffi::CStr) -> *mut libc::c_void {
    libc::dlsym(libc::RTLD_NEXT, name.as_ptr())
}

/// The next allocator, or None while this thread is resolving it.
fn next_alloc() -> Option<&'static NextAlloc> {
    let p = NEXT.load(Ordering::Acquire);
    if !p.is_null() {
        return Some(unsafe { &*p });
    }
    let tid = unsafe { libc::gettid() };
    loop {
        match RESOLVER.compare_exchange(0, tid, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => break,
            Err(t) if t == tid => return None, // dlsym allocating: bootstrap buffer
            Err(_) => {
                // Another thread is resolving (only possible if threads exist
                // before the first allocation): wait for it.
                let p = NEXT.load(Ordering::Acquire);
                if !p.is_null() {
                    return Some(unsafe { &*p });
                }
                std::hint::spin_loop();
            }
        }
    }
    let p = NEXT.load(Ordering::Acquire);
    if !p.is_null() {
        RESOLVER.store(0, Ordering::Release);
        return Some(unsafe { &*p });
    }
    let r = unsafe {
        let (m, c, r, f) = (sym(c"malloc"), sym(c"calloc"), sym(c"realloc"), sym(c"free"));
        let all = !m.is_null() && !c.is_null() && !r.is_null() && !f.is_null();
        // Without all four (should not happen: libc defines them), glibc's.
        if all {
            NextAlloc {
                malloc: std::mem::transmute::<*mut libc::c_void, MallocFn>(m),
                calloc: std::mem::transmute::<*mut libc::c_void, CallocFn>(c),
                realloc: std::mem::transmute::<*mut libc::c_void, ReallocFn>(r),
                free: std::mem::transmute::<*mut libc::c_void, FreeFn>(f),
            }
        } else {
            NextAlloc { malloc: __libc_malloc, calloc: __libc_calloc, realloc: __libc_realloc, free: __libc_free }
        }
    };
    // The record lives in the shim's private arena (never freed).
    let rec = Box::into_raw(Box::new(r));
    NEXT.store(rec, Ordering::Release);
    RESOLVER.store(0, Ordering::Release);
    Some(unsafe { &*rec })
}

#[no_mangle]
pub unsafe extern "C" fn malloc(n: libc::size_t) -> *mut libc::c_void {
    let Some(a) = next_alloc() else { return boot_alloc(n) };
    let p = (a.malloc)(n);
    after_large_alloc(p, n);
    p
}

#[no_mangle]
pub unsafe extern "C" fn calloc(n: libc::size_t, m: libc::size_t) -> *mut libc::c_void {
    let Some(a) = next_alloc() else {
        // The bootstrap buffer is static, hence zeroed, and never reused.
        return match n.checked_mul(m) {
            Some(t) => boot_alloc(t),
            None => std::ptr::null_mut(),
        };
    };
    let p = (a.calloc)(n, m);
    after_large_alloc(p, n.saturating_mul(m));
    p
}

#[no_mangle]
pub unsafe extern "C" fn realloc(q: *mut libc::c_void, n: libc::size_t) -> *mut libc::c_void {
    if in_boot(q) {
        // Move a bootstrap block to the real allocator (or a bigger
        // bootstrap block while still resolving).
        let p = malloc(n);
        if !p.is_null() {
            std::ptr::copy_nonoverlapping(q as *const u8, p as *mut u8, boot_size(q).min(n));
        }
        return p;
    }
    let Some(a) = next_alloc() else {
        if q.is_null() {
            return boot_alloc(n);
        }
        // Resizing a real block while resolving: nothing else can do it.
        return __libc_realloc(q, n);
    };
    let p = (a.realloc)(q, n);
    after_large_alloc(p, n);
    p
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut libc::c_void) {
    if p.is_null() || in_boot(p) {
        return;
    }
    match next_alloc() {
        Some(a) => (a.free)(p),
        None => __libc_free(p),
    }
}

type BrkFn = unsafe extern "C" fn(*mut libc::c_void) -> libc::c_int;
type SbrkFn = unsafe extern "C" fn(libc::intptr_t) -> *mut libc::c_void;

unsafe fn next<T>(name: &std::ffi::CStr) -> Option<T> {
    let p = libc::dlsym(libc::RTLD_NEXT, name.as_ptr());
    if p.is_null() {
        None
    } else {
        Some(std::mem::transmute_copy(&p))
    }
}

fn after_brk() {
    if let Some(e) = emu::get() {
        e.request(Req::Rescan);
    }
}

#[no_mangle]
pub unsafe extern "C" fn brk(addr: *mut libc::c_void) -> libc::c_int {
    let Some(f) = next::<BrkFn>(c"brk") else {
        set_errno(libc::ENOMEM);
        return -1;
    };
    let r = f(addr);
    if r == 0 {
        after_brk();
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn sbrk(incr: libc::intptr_t) -> *mut libc::c_void {
    let Some(f) = next::<SbrkFn>(c"sbrk") else {
        set_errno(libc::ENOMEM);
        return usize::MAX as *mut libc::c_void;
    };
    let r = f(incr);
    if r as isize != -1 && incr > 0 {
        after_brk();
    }
    r
}
