//! Wire protocol between the shim and the memory-blade server (`memu-blade`).
//!
//! One request at a time per connection. Request: a 16-byte header
//! `op u32, pad u32, key u64` followed, for PUT, by one 4096-byte page.
//! Response: `status u32, pad u32`, followed, for a successful GET, by the
//! page. Keys are chosen by the client and private to its connection group;
//! the server drops a client's pages when it disconnects.
//!
//! Over TCP the bytes go on the stream. Over shared memory they sit in a
//! `Ring` (one per connection) in a memfd the client passes to the server over
//! a Unix socket; `req_seq`/`resp_seq` are futex words.

pub const OP_GET: u32 = 1; // read (the client FREEs the key once the page is installed)
pub const OP_PUT: u32 = 2;
pub const OP_FREE: u32 = 3;
pub const OP_PING: u32 = 4;

pub const ST_OK: u32 = 0;
pub const ST_MISSING: u32 = 1;
pub const ST_BAD: u32 = 2;

pub const PAGE: usize = 4096;

#[repr(C)]
pub struct Ring {
    pub req_seq: std::sync::atomic::AtomicU32,
    pub resp_seq: std::sync::atomic::AtomicU32,
    pub op: u32,
    pub status: u32,
    pub key: u64,
    /// Group id: all connections of one client process share a key space.
    pub group: u64,
    pub data: [u8; PAGE],
}

pub const RING_BYTES: usize = std::mem::size_of::<Ring>();

pub fn header(op: u32, key: u64) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&op.to_le_bytes());
    h[8..16].copy_from_slice(&key.to_le_bytes());
    h
}

pub fn parse_header(h: &[u8; 16]) -> (u32, u64) {
    (u32::from_le_bytes(h[0..4].try_into().unwrap()), u64::from_le_bytes(h[8..16].try_into().unwrap()))
}

/// futex wait on a shared (cross-process) word while it equals `val`.
pub fn futex_wait(word: &std::sync::atomic::AtomicU32, val: u32, timeout_ns: u64) {
    let ts = libc::timespec { tv_sec: (timeout_ns / 1_000_000_000) as i64, tv_nsec: (timeout_ns % 1_000_000_000) as i64 };
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, val, &ts as *const libc::timespec);
    }
}

pub fn futex_wake(word: &std::sync::atomic::AtomicU32) {
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// Calls `f` with a message of one byte of payload and room for one
/// descriptor: what carries a ring's memfd to the server. The buffers the
/// header points into live on this frame for the whole call.
fn with_fd_message<R>(f: impl FnOnce(&mut libc::msghdr) -> R) -> R {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr() as *mut libc::c_void, iov_len: 1 };
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: an all-zero msghdr is valid; its pointers are set next.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space;
    f(&mut msg)
}

/// Passes `fd` over a Unix socket (SCM_RIGHTS).
pub fn send_fd(sock: &std::os::unix::net::UnixStream, fd: i32) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    with_fd_message(|msg| {
        // SAFETY: the control buffer has room for one header carrying one i32.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as usize;
            std::ptr::copy_nonoverlapping(&fd as *const i32 as *const u8, libc::CMSG_DATA(c), 4);
            if libc::sendmsg(sock.as_raw_fd(), msg, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    })
}

/// Receives a descriptor sent by `send_fd`; None if the peer closed or sent none.
pub fn recv_fd(sock: &std::os::unix::net::UnixStream) -> Option<i32> {
    use std::os::unix::io::AsRawFd;
    with_fd_message(|msg| unsafe {
        // SAFETY: the header points into buffers that outlive the call.
        if libc::recvmsg(sock.as_raw_fd(), msg, 0) <= 0 {
            return None;
        }
        let c = libc::CMSG_FIRSTHDR(msg);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            return None;
        }
        let mut fd = 0i32;
        std::ptr::copy_nonoverlapping(libc::CMSG_DATA(c), &mut fd as *mut i32 as *mut u8, 4);
        Some(fd)
    })
}
