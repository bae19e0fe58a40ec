//! Raw system calls the shim makes for itself.
//!
//! Inside the preloaded library a plain `libc::mmap` call would bind to the
//! shim's own exported `mmap` interposer, so the shim's private mappings go
//! straight to the kernel instead.

// Thin syscall wrappers: the kernel's contract for each call applies.
#![allow(clippy::missing_safety_doc)]

pub unsafe fn mmap(addr: u64, len: u64, prot: i32, flags: i32, fd: i32, off: i64) -> Result<u64, i32> {
    let r = libc::syscall(libc::SYS_mmap, addr, len, prot, flags, fd, off);
    if r == -1 {
        Err(errno())
    } else {
        Ok(r as u64)
    }
}

/// A fresh private anonymous read-write mapping of `len` bytes.
pub fn anon(len: u64) -> Result<u64, i32> {
    unsafe { mmap(0, len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) }
}

pub unsafe fn munmap(addr: u64, len: u64) -> i64 {
    libc::syscall(libc::SYS_munmap, addr, len)
}

pub unsafe fn madvise(addr: u64, len: u64, advice: i32) -> i64 {
    libc::syscall(libc::SYS_madvise, addr, len, advice)
}

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// Monotonic nanoseconds (vDSO, no syscall).
#[inline]
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Busy-wait until `deadline` (monotonic ns). Injected delays are microseconds,
/// far below what a sleep can resolve, so the handler spins.
#[inline]
pub fn spin_until(deadline: u64) {
    while now_ns() < deadline {
        std::hint::spin_loop();
    }
}

/// Write a whole buffer to a file descriptor (used for one-line diagnostics).
pub fn write_all(fd: i32, mut b: &[u8]) {
    while !b.is_empty() {
        let n = unsafe { libc::write(fd, b.as_ptr() as *const libc::c_void, b.len()) };
        if n <= 0 {
            return;
        }
        b = &b[n as usize..];
    }
}

/// Read a whole small file (e.g. /proc/self/maps) with raw syscalls.
pub fn read_file(path: &str) -> Option<Vec<u8>> {
    let c = std::ffi::CString::new(path).ok()?;
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let mut out = Vec::with_capacity(64 * 1024);
    let mut buf = [0u8; 16384];
    loop {
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    unsafe { libc::close(fd) };
    Some(out)
}

/// Move the shim's descriptor `fd` to a high number (close-on-exec) and
/// return the new number; `fd` itself if that is not possible.
///
/// Programs that close every descriptor above 2 (the JDK's jspawnhelper,
/// daemons, Python's subprocess in a forked child) close the emulator's too;
/// the emulator notices and stops (see `Emu::lose_uffd`). What it cannot
/// notice is a *reused* number: had the number been handed out again by the
/// program's next open() before the handler looked, the handler would read
/// the program's file (or the evictor write to it). open() hands out the
/// lowest free number, so numbers near the top of the table are not reused
/// in practice. The top is capped at 1024: a soft limit of millions would
/// otherwise grow the descriptor table (and every fork's copy of it) to
/// that size.
pub fn high_fd(fd: i32) -> i32 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    if fd < 0 || unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return fd;
    }
    let top = lim.rlim_cur.min(1024) as i32;
    if top < 128 {
        return fd;
    }
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, top - 64) };
    if new < 0 {
        return fd;
    }
    unsafe { libc::close(fd) };
    new
}

/// (device, inode) of the file behind `fd`; None if `fd` is not open.
pub fn file_id(fd: i32) -> Option<(u64, u64)> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return None;
    }
    Some((st.st_dev, st.st_ino))
}

/// Sleep for `ns` nanoseconds (EINTR ends it early; callers loop anyway).
pub fn sleep_ns(ns: u64) {
    let ts = libc::timespec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as i64 };
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}
