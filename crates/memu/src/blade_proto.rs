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
