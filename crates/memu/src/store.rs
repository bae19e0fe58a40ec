//! The remote store: where evicted pages live.
//!
//! In-process (the study's setup): the store is a large reservation in the
//! emulated process itself, registered with the same userfaultfd, and pages are
//! moved into and out of it with UFFDIO_MOVE -- page-table moves, no copy -- so
//! the only cost of a transfer is the injected network delay. A slot is one
//! page-sized hole in the reservation. Blade backends (see blade.rs) keep the
//! bytes in a separate server process instead.

use crate::blade::BladeStore;
use crate::uffd::{self, PAGE};

pub const STORE_BYTES: u64 = 1 << 40;

pub struct InProc {
    pub base: u64,
    bump: u64,
    /// Empty slots ready for reuse.
    free: Vec<u64>,
    /// Slots still holding a page nobody needs; they must be discarded
    /// (MADV_DONTNEED, which raises a REMOVE event) before reuse, which only
    /// the evictor may do: the handler cannot wait for its own event.
    pub discard: Vec<u64>,
}

pub enum Store {
    InProc(InProc),
    Blade(BladeStore),
}

impl InProc {
    pub fn new(uffd_fd: i32, mode: u64) -> Result<InProc, i32> {
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
        Ok(InProc { base, bump: base, free: Vec::new(), discard: Vec::new() })
    }

    pub fn range(&self) -> (u64, u64) {
        (self.base, self.base + STORE_BYTES)
    }

    pub fn alloc(&mut self) -> Option<u64> {
        if let Some(s) = self.free.pop() {
            return Some(s);
        }
        if self.bump + PAGE > self.base + STORE_BYTES {
            return None;
        }
        let s = self.bump;
        self.bump += PAGE;
        Some(s)
    }

    /// The page left the slot (fetched back): it can be reused at once.
    pub fn release_empty(&mut self, slot: u64) {
        self.free.push(slot);
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
