//! Live counters of one emulated process, in a MAP_SHARED file.
//!
//! The file is updated in place while the program runs, so the numbers are
//! complete however the program ends (exit, _exit, a signal, Ctrl-C) -- nothing
//! has to run at exit. Layout (little-endian u64s): a header, the counters in
//! the order of `Counter`, then two log-linear histograms of HIST_BUCKETS
//! buckets (see `bucket`: exact below 64 ns, then 32 buckets per power of two,
//! about 3% wide, up to ~18 minutes). `ddclab.emu.stats`
//! reads it; keep the two in step (VERSION).

use std::sync::atomic::{AtomicU64, Ordering};

pub const MAGIC: u64 = 0x3154_5453_554d_4444; // "DDMUSTS1"
pub const VERSION: u64 = 4;
pub const HIST_BUCKETS: usize = 1200;

/// Histogram bucket of a duration in ns.
pub fn bucket(ns: u64) -> usize {
    if ns < 64 {
        return ns as usize;
    }
    let e = (63 - ns.leading_zeros()) as u64 - 5;
    let i = 64 + (e - 1) * 32 + ((ns >> e) - 32);
    (i as usize).min(HIST_BUCKETS - 1)
}

#[derive(Clone, Copy)]
#[repr(usize)]
pub enum Counter {
    /// Page-fault messages handled.
    Faults,
    /// First touches of never-used pages (filled with zeros locally).
    ZeroFills,
    /// Faults that needed a remote read.
    RemoteFaults,
    PagesFetched,
    FetchBatches,
    PagesEvicted,
    EvictBatches,
    /// Evicted pages that were written back (dirty).
    PagesWrittenBack,
    /// Pages the evictor could not move (shared after fork, locked, ...).
    EvictSkipped,
    Resident,
    PeakResident,
    Budget,
    /// Sum of the handler's own service time for remote faults, excluding the
    /// injected delay.
    HandlerNs,
    InjectedNs,
    /// Time faults waited for the evictor to make room.
    StallNs,
    Registered,
    Rescans,
    TraceRecords,
    TraceDropped,
    ForkPrefetch,
    Events,
    StartNs,
    /// Pages whose fault arrived while they were being evicted.
    EvictRaces,
    /// Time the evictor spent in batches (selection, moves, bookkeeping),
    /// excluding the modelled write-back wait.
    EvictNs,
    /// Pages already present when their mapping was registered (touched
    /// before the emulator found the mapping); they may push the resident set
    /// past the budget until the evictor catches up.
    LatePages,
    /// UFFDIO_MOVE calls the kernel reported as failed (EEXIST) although the
    /// page had moved (checked in /proc/self/pagemap). Linux 6.18's batched
    /// MOVE does this when an internal retry (EAGAIN) precedes the move.
    MoveMisreports,
    /// Faults on pages the page table held local that were not present (a
    /// fault racing `madvise(MADV_DONTNEED)`): served as a first touch.
    StaleLocal,
    /// uffd-wp markers removed from empty page-table entries before a page
    /// could be installed there (see `Emu::clear_marker`).
    MarkersCleared,
    /// Requests of the interposed calls (mmap, large malloc, brk, mremap,
    /// fork) served by the handler thread (see `Emu::request`).
    Requests,
    /// 1 once the program closed the emulator's userfaultfd (see
    /// `Emu::lose_uffd`): with no page remote it ran on unemulated, with
    /// pages remote the shim stopped it (exit 125).
    UffdClosed,
    /// UFFDIO_MOVE calls the evictor made (runs of contiguous pages leave
    /// with one: pages_evicted / evict_moves is the mean run).
    EvictMoves,
    N,
}

pub const HEADER: usize = 4; // magic, version, n_counters, pid

pub struct Stats {
    base: *mut AtomicU64,
}
unsafe impl Send for Stats {}
unsafe impl Sync for Stats {}

pub const fn total_words() -> usize {
    HEADER + Counter::N as usize + 2 * HIST_BUCKETS
}

impl Stats {
    /// Map the stats file `<dir>/<pid>-<ns>.stats`, or anonymous shared memory
    /// when no directory is configured.
    pub fn open(dir: Option<&str>) -> Stats {
        let bytes = (total_words() * 8) as u64;
        let mut fd = -1;
        if let Some(dir) = dir {
            let path = format!("{}/{}-{}.stats\0", dir, unsafe { libc::getpid() }, crate::sys::now_ns());
            fd = unsafe {
                libc::open(path.as_ptr() as *const libc::c_char, libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o644)
            };
            if fd >= 0 && unsafe { libc::ftruncate(fd, bytes as i64) } != 0 {
                unsafe { libc::close(fd) };
                fd = -1;
            }
        }
        let flags = if fd >= 0 { libc::MAP_SHARED } else { libc::MAP_SHARED | libc::MAP_ANONYMOUS };
        let p = unsafe { crate::sys::mmap(0, bytes, libc::PROT_READ | libc::PROT_WRITE, flags, fd, 0) }
            .unwrap_or_else(|_| {
                crate::sys::write_all(2, b"ddclab-memu: cannot map the stats file\n");
                unsafe { libc::_exit(70) }
            });
        if fd >= 0 {
            unsafe { libc::close(fd) };
        }
        let s = Stats { base: p as *mut AtomicU64 };
        s.word(1).store(VERSION, Ordering::Relaxed);
        s.word(2).store(Counter::N as u64, Ordering::Relaxed);
        s.word(3).store(unsafe { libc::getpid() } as u64, Ordering::Relaxed);
        s.word(0).store(MAGIC, Ordering::Release);
        s
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        unsafe { &*self.base.add(i) }
    }
    pub fn get(&self, c: Counter) -> u64 {
        self.word(HEADER + c as usize).load(Ordering::Relaxed)
    }
    pub fn add(&self, c: Counter, v: u64) {
        self.word(HEADER + c as usize).fetch_add(v, Ordering::Relaxed);
    }
    pub fn sub(&self, c: Counter, v: u64) {
        self.word(HEADER + c as usize).fetch_sub(v, Ordering::Relaxed);
    }
    pub fn set(&self, c: Counter, v: u64) {
        self.word(HEADER + c as usize).store(v, Ordering::Relaxed);
    }
    pub fn max(&self, c: Counter, v: u64) {
        self.word(HEADER + c as usize).fetch_max(v, Ordering::Relaxed);
    }
    /// Record a sample in histogram 0 (remote-fault service) or 1 (zero fill).
    pub fn hist(&self, which: usize, ns: u64) {
        let b = bucket(ns);
        self.word(HEADER + Counter::N as usize + which * HIST_BUCKETS + b).fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::bucket;
    #[test]
    fn buckets_are_monotonic_and_about_three_percent_wide() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(63), 63);
        assert_eq!(bucket(64), 64);
        assert_eq!(bucket(127), 95);
        assert_eq!(bucket(128), 96);
        let mut last = 0;
        for ns in (0..10_000_000u64).step_by(997) {
            let b = bucket(ns);
            assert!(b >= last);
            last = b;
        }
        // 10 us and 10.3 us are one bucket apart at most.
        assert!(bucket(10_300) - bucket(10_000) <= 1);
    }
}
