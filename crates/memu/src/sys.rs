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
