//! Raw userfaultfd and PAGEMAP_SCAN bindings.
//!
//! The Debian kernel headers predate UFFDIO_MOVE, WP_ASYNC and PAGEMAP_SCAN, and
//! the `libc` crate does not carry them, so the ABI (from the kernel's
//! include/uapi/linux/userfaultfd.h and fs.h) is written out here. Every wrapper
//! returns the raw errno on failure because callers branch on it (EEXIST means
//! "someone else already resolved the fault", EBUSY means "page shared", ...).

use std::io;

pub const PAGE: u64 = 4096;
pub const PAGE_SHIFT: u32 = 12;

// Features requested at UFFDIO_API.
pub const FEATURE_EVENT_REMAP: u64 = 1 << 2;
pub const FEATURE_EVENT_REMOVE: u64 = 1 << 3;
pub const FEATURE_EVENT_UNMAP: u64 = 1 << 6;
pub const FEATURE_THREAD_ID: u64 = 1 << 8;
pub const FEATURE_WP_UNPOPULATED: u64 = 1 << 13;
pub const FEATURE_WP_ASYNC: u64 = 1 << 15;
pub const FEATURE_MOVE: u64 = 1 << 16;

pub const EVENT_PAGEFAULT: u8 = 0x12;
pub const EVENT_FORK: u8 = 0x13;
pub const EVENT_REMAP: u8 = 0x14;
pub const EVENT_REMOVE: u8 = 0x15;
pub const EVENT_UNMAP: u8 = 0x16;

pub const PAGEFAULT_FLAG_WRITE: u64 = 1 << 0;
pub const PAGEFAULT_FLAG_WP: u64 = 1 << 1;

pub const REGISTER_MODE_MISSING: u64 = 1 << 0;
pub const REGISTER_MODE_WP: u64 = 1 << 1;

pub const COPY_MODE_DONTWAKE: u64 = 1 << 0;
pub const COPY_MODE_WP: u64 = 1 << 1;
pub const MOVE_MODE_DONTWAKE: u64 = 1 << 0;
pub const WP_MODE_WP: u64 = 1 << 0;
pub const WP_MODE_DONTWAKE: u64 = 1 << 1;

const fn iowr(ty: u64, nr: u64, size: u64) -> u64 {
    (3 << 30) | (size << 16) | (ty << 8) | nr
}
const fn ior(ty: u64, nr: u64, size: u64) -> u64 {
    (2 << 30) | (size << 16) | (ty << 8) | nr
}
const UFFDIO: u64 = 0xAA;
const UFFDIO_API: u64 = iowr(UFFDIO, 0x3F, 24);
const UFFDIO_REGISTER: u64 = iowr(UFFDIO, 0x00, 32);
const UFFDIO_UNREGISTER: u64 = ior(UFFDIO, 0x01, 16);
const UFFDIO_WAKE: u64 = ior(UFFDIO, 0x02, 16);
const UFFDIO_COPY: u64 = iowr(UFFDIO, 0x03, 40);
const UFFDIO_ZEROPAGE: u64 = iowr(UFFDIO, 0x04, 32);
const UFFDIO_MOVE: u64 = iowr(UFFDIO, 0x05, 40);
const UFFDIO_WRITEPROTECT: u64 = iowr(UFFDIO, 0x06, 24);
const PAGEMAP_SCAN: u64 = iowr(b'f' as u64, 16, 96);

// PAGEMAP_SCAN page categories and flags.
pub const PAGE_IS_WRITTEN: u64 = 1 << 1;
pub const PAGE_IS_PRESENT: u64 = 1 << 3;
pub const PM_SCAN_WP_MATCHING: u64 = 1 << 0;
pub const PM_SCAN_CHECK_WPASYNC: u64 = 1 << 1;

/// One message read from the userfaultfd (struct uffd_msg, 32 bytes, packed).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Msg {
    pub event: u8,
    pub _r1: u8,
    pub _r2: u16,
    pub _r3: u32,
    /// Union: pagefault {flags, address, ptid}, remap {from, to, len},
    /// remove/unmap {start, end}.
    pub a: u64,
    pub b: u64,
    pub c: u64,
}

#[repr(C)]
struct Api {
    api: u64,
    features: u64,
    ioctls: u64,
}
#[repr(C)]
struct Register {
    start: u64,
    len: u64,
    mode: u64,
    ioctls: u64,
}
#[repr(C)]
struct Range {
    start: u64,
    len: u64,
}
#[repr(C)]
struct Copy {
    dst: u64,
    src: u64,
    len: u64,
    mode: u64,
    copy: i64,
}
#[repr(C)]
struct Zero {
    start: u64,
    len: u64,
    mode: u64,
    zeropage: i64,
}
#[repr(C)]
struct Move {
    dst: u64,
    src: u64,
    len: u64,
    mode: u64,
    moved: i64,
}
#[repr(C)]
struct WriteProtect {
    start: u64,
    len: u64,
    mode: u64,
}

/// struct page_region of PAGEMAP_SCAN.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct PageRegion {
    pub start: u64,
    pub end: u64,
    pub categories: u64,
}

#[repr(C)]
struct ScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

unsafe fn ioctl<T>(fd: i32, req: u64, arg: *mut T) -> Result<(), i32> {
    if libc::ioctl(fd, req as _, arg) < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Create a userfaultfd and negotiate `features`; returns (fd, features granted).
/// Kernel faults (a syscall reading an evicted buffer) must be served too, so
/// UFFD_USER_MODE_ONLY is deliberately not set.
pub fn open(features: u64) -> Result<(i32, u64), i32> {
    let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if fd < 0 {
        return Err(errno());
    }
    let fd = fd as i32;
    let mut api = Api { api: 0xAA, features, ioctls: 0 };
    if let Err(e) = unsafe { ioctl(fd, UFFDIO_API, &mut api) } {
        unsafe { libc::close(fd) };
        return Err(e);
    }
    Ok((fd, api.features))
}

pub fn register(fd: i32, start: u64, len: u64, mode: u64) -> Result<(), i32> {
    let mut r = Register { start, len, mode, ioctls: 0 };
    unsafe { ioctl(fd, UFFDIO_REGISTER, &mut r) }
}

pub fn unregister(fd: i32, start: u64, len: u64) -> Result<(), i32> {
    let mut r = Range { start, len };
    unsafe { ioctl(fd, UFFDIO_UNREGISTER, &mut r) }
}

pub fn wake(fd: i32, start: u64, len: u64) -> Result<(), i32> {
    let mut r = Range { start, len };
    unsafe { ioctl(fd, UFFDIO_WAKE, &mut r) }
}

/// Install `len` bytes copied from `src` at `dst`; returns bytes copied.
pub fn copy(fd: i32, dst: u64, src: u64, len: u64, mode: u64) -> Result<u64, (i32, i64)> {
    let mut c = Copy { dst, src, len, mode, copy: 0 };
    match unsafe { ioctl(fd, UFFDIO_COPY, &mut c) } {
        Ok(()) => Ok(c.copy as u64),
        Err(e) => Err((e, c.copy)),
    }
}

pub fn zeropage(fd: i32, start: u64, len: u64, mode: u64) -> Result<(), i32> {
    let mut z = Zero { start, len, mode, zeropage: 0 };
    unsafe { ioctl(fd, UFFDIO_ZEROPAGE, &mut z) }
}

/// Atomically move the page-table entries of [src, src+len) to dst (which must
/// be unpopulated and registered with this uffd). The kernel refuses cross-mm
/// moves, which is why the evictor lives inside the emulated process.
pub fn mv(fd: i32, dst: u64, src: u64, len: u64, mode: u64) -> Result<u64, (i32, i64)> {
    let mut m = Move { dst, src, len, mode, moved: 0 };
    match unsafe { ioctl(fd, UFFDIO_MOVE, &mut m) } {
        Ok(()) => Ok(m.moved as u64),
        Err(e) => Err((e, m.moved)),
    }
}

pub fn writeprotect(fd: i32, start: u64, len: u64, mode: u64) -> Result<(), i32> {
    let mut w = WriteProtect { start, len, mode };
    unsafe { ioctl(fd, UFFDIO_WRITEPROTECT, &mut w) }
}

/// PAGEMAP_SCAN over [start, end) on an open /proc/self/pagemap. Returns the
/// number of regions written to `out` and the address where the walk stopped.
pub fn pagemap_scan(
    pagemap_fd: i32,
    start: u64,
    end: u64,
    flags: u64,
    category_mask: u64,
    return_mask: u64,
    out: &mut [PageRegion],
) -> Result<(usize, u64), i32> {
    let mut a = ScanArg {
        size: std::mem::size_of::<ScanArg>() as u64,
        flags,
        start,
        end,
        walk_end: 0,
        vec: out.as_mut_ptr() as u64,
        vec_len: out.len() as u64,
        max_pages: 0,
        category_inverted: 0,
        category_mask,
        category_anyof_mask: 0,
        return_mask,
    };
    let r = unsafe { libc::ioctl(pagemap_fd, PAGEMAP_SCAN as _, &mut a) };
    if r < 0 {
        Err(errno())
    } else {
        Ok((r as usize, a.walk_end))
    }
}

pub fn read_msgs(fd: i32, buf: &mut [Msg]) -> Result<usize, i32> {
    let n = unsafe {
        libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, std::mem::size_of_val(buf))
    };
    if n < 0 {
        Err(errno())
    } else {
        Ok(n as usize / std::mem::size_of::<Msg>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn abi_sizes_match_the_kernel() {
        assert_eq!(std::mem::size_of::<Msg>(), 32);
        assert_eq!(std::mem::size_of::<ScanArg>(), 96);
        assert_eq!(std::mem::size_of::<PageRegion>(), 24);
        // Values from the kernel headers (_IOWR(0xAA, 0x3F, 24) etc.).
        assert_eq!(UFFDIO_API, 0xc018aa3f);
        assert_eq!(UFFDIO_COPY, 0xc028aa03);
        assert_eq!(UFFDIO_REGISTER, 0xc020aa00);
        assert_eq!(UFFDIO_WAKE, 0x8010aa02);
    }
}
