//! Trace of every remote read and write, for the traffic pipeline.
//!
//! Written by the shim into a MAP_SHARED sparse file: a record costs one atomic
//! increment and a 32-byte store, no syscall, and the trace survives however the
//! program ends. `ddclab.emu.trace` converts it to Parquet with pyarrow (the
//! Rust parquet/arrow crates would triple the shim's build time).
//!
//! File layout (little-endian): header of 8 u64 words
//!   [magic "DDMUTRC1", version, record_size=32, capacity, count, dropped, pid, start_ns]
//! then `capacity` records of
//!   ts_ns u64 (monotonic, relative to start_ns), page u64 (virtual page number),
//!   pages u32, kind u8 (0 = read, 1 = write), 3 pad bytes, batch u64.
//! `count` may exceed `capacity` (records past capacity are counted in `dropped`).

use std::sync::atomic::{AtomicU64, Ordering};

pub const MAGIC: u64 = 0x3143_5254_554d_4444; // "DDMUTRC1"
pub const READ: u8 = 0;
pub const WRITE: u8 = 1;
const HEADER_WORDS: usize = 8;

#[repr(C)]
struct Record {
    ts_ns: u64,
    page: u64,
    pages: u32,
    kind: u8,
    _pad: [u8; 3],
    batch: u64,
}

pub struct Trace {
    base: *mut u8,
    capacity: u64,
    start_ns: u64,
}
unsafe impl Send for Trace {}
unsafe impl Sync for Trace {}

impl Trace {
    pub fn open(dir: &str, capacity: u64) -> Option<Trace> {
        let start_ns = crate::sys::now_ns();
        let path = format!("{}/{}-{}.trace\0", dir, unsafe { libc::getpid() }, start_ns);
        let bytes = (HEADER_WORDS as u64 * 8) + capacity * 32;
        unsafe {
            let fd = libc::open(path.as_ptr() as *const libc::c_char, libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o644);
            if fd < 0 {
                return None;
            }
            if libc::ftruncate(fd, bytes as i64) != 0 {
                libc::close(fd);
                return None;
            }
            let p = crate::sys::mmap(0, bytes, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0);
            libc::close(fd);
            let p = p.ok()? as *mut u8;
            let t = Trace { base: p, capacity, start_ns };
            let h = p as *mut u64;
            *h.add(1) = 1;
            *h.add(2) = 32;
            *h.add(3) = capacity;
            *h.add(6) = libc::getpid() as u64;
            *h.add(7) = start_ns;
            t.word(0).store(MAGIC, Ordering::Release);
            Some(t)
        }
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        unsafe { &*(self.base as *const AtomicU64).add(i) }
    }

    /// Append one record; returns false if the trace is full.
    pub fn record(&self, now_ns: u64, page: u64, pages: u32, kind: u8, batch: u64) -> bool {
        let i = self.word(4).fetch_add(1, Ordering::Relaxed);
        if i >= self.capacity {
            self.word(5).fetch_add(1, Ordering::Relaxed);
            return false;
        }
        unsafe {
            let r = self.base.add(HEADER_WORDS * 8 + i as usize * 32) as *mut Record;
            r.write(Record { ts_ns: now_ns.saturating_sub(self.start_ns), page, pages, kind, _pad: [0; 3], batch });
        }
        true
    }
}
