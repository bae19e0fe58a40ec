//! The remote store: where evicted pages live.
//!
//! In-process (the study's setup): the store is a large reservation in the
//! emulated process itself. Eviction moves a page into a slot with UFFDIO_MOVE
//! (atomic: the program can never see the page half-gone); a fetch copies it
//! back with UFFDIO_COPY, and the slot's stale copy is discarded later by the
//! evictor, in batches. The copy costs ~1 us of memcpy; a move back would
//! instead clear the slot's page-table entry and flush it from every other
//! CPU running the process -- an inter-processor interrupt the fault would
//! wait for (a third of the handler's time on the 2-core VM).
//!
//! The reservation is registered with a userfaultfd of its own, with no event
//! features: UFFDIO_MOVE needs its destination registered, but discarding
//! slots (MADV_DONTNEED) on a range of the program's userfaultfd would raise
//! REMOVE events, and while one is unread every fetch fails with EAGAIN.
//! Nothing ever faults on the store: a slot is read only while it holds a
//! page. A slot is one page-sized hole in the reservation. Blade backends
//! (see blade.rs) keep the bytes in a separate server process instead.

use crate::blade::BladeStore;
use crate::slots::Slots;
use crate::uffd::{self, PAGE};

pub const STORE_BYTES: u64 = 1 << 40;

pub struct InProc {
    pub base: u64,
    /// The store's own userfaultfd (see above); -1 for a blade's staging
    /// area, which uses the program's.
    pub uffd: i32,
    /// Which slots are in use (holding a page, being filled, or waiting to
    /// be discarded).
    slots: Slots,
    /// Slots still holding a page nobody needs (fetched back, or freed by
    /// the program); the evictor discards them (MADV_DONTNEED) before reuse,
    /// in batches, off the fault path.
    pub discard: Vec<u64>,
}

pub enum Store {
    InProc(InProc),
    Blade(BladeStore),
}

impl InProc {
    /// The in-process store, with a userfaultfd of its own.
    pub fn new() -> Result<InProc, i32> {
        let (fd, got) = uffd::open(uffd::FEATURE_MOVE)?;
        let fd = crate::sys::high_fd(fd);
        if got & uffd::FEATURE_MOVE == 0 {
            return Err(libc::ENOSYS);
        }
        match Self::reserve(fd, uffd::REGISTER_MODE_MISSING) {
            Ok(s) => Ok(InProc { uffd: fd, ..s }),
            Err(e) => {
                unsafe { libc::close(fd) };
                Err(e)
            }
        }
    }

    /// A reservation registered with `uffd_fd` (a blade's staging area).
    pub fn reserve(uffd_fd: i32, mode: u64) -> Result<InProc, i32> {
        let base = unsafe {
            crate::sys::mmap(
                0,
                STORE_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )?
        };
        uffd::register(uffd_fd, base, STORE_BYTES, mode)?;
        Ok(InProc { base, uffd: -1, slots: Slots::new(STORE_BYTES / PAGE), discard: Vec::new() })
    }

    pub fn range(&self) -> (u64, u64) {
        (self.base, self.base + STORE_BYTES)
    }

    pub fn alloc(&mut self) -> Option<u64> {
        self.alloc_run(1)
    }

    /// `n` (at most `slots::MAX_RUN`) contiguous empty slots; the first one's address.
    pub fn alloc_run(&mut self, n: u64) -> Option<u64> {
        self.slots.alloc_run(n).map(|i| self.base + i * PAGE)
    }

    /// The slot is empty (its page left, or was discarded): reusable at once.
    pub fn release_empty(&mut self, slot: u64) {
        self.slots.release((slot - self.base) / PAGE);
    }
}

impl Store {
    pub fn exclude_range(&self) -> Option<(u64, u64)> {
        match self {
            Store::InProc(s) => Some(s.range()),
            Store::Blade(b) => Some(b.staging.range()),
        }
    }

    /// A remote copy is no longer needed (its page was freed by the program).
    pub fn release_full(&mut self, slot: u64) {
        match self {
            Store::InProc(s) => s.discard.push(slot),
            Store::Blade(b) => b.to_free.push(slot),
        }
    }
}
