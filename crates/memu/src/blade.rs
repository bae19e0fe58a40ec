//! Client side of the memory-blade backends: pages live in a separate server
//! process (`memu-blade`), reached over TCP or a shared-memory ring.
//!
//! Eviction moves the victim (UFFDIO_MOVE, atomic as always) into a staging
//! slot of this process, sends the bytes with PUT, and queues the staging slot
//! for discarding. A fetch GETs the bytes and installs them with UFFDIO_COPY.
//! The handler and the evictor each have their own connection, so eviction
//! traffic never queues behind a fetch on the same socket.

use crate::blade_proto::{self as proto, Ring, PAGE, RING_BYTES};
use crate::config::{BackendKind, Config};
use crate::lock::Lock;
use crate::store::InProc;
use crate::uffd;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

pub enum Conn {
    Tcp(std::net::TcpStream),
    Shm { ring: *mut Ring, _sock: std::os::unix::net::UnixStream },
}
unsafe impl Send for Conn {}

fn io_err(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

impl Conn {
    fn connect(kind: BackendKind, addr: &str, group: u64) -> Result<Conn, String> {
        match kind {
            BackendKind::Tcp => {
                let s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
                s.set_nodelay(true).map_err(|e| e.to_string())?;
                let mut c = Conn::Tcp(s);
                // The first request names the group (key space) of this process.
                c.request(proto::OP_PING, group, None, None).map_err(|e| format!("handshake failed (errno {e})"))?;
                Ok(c)
            }
            BackendKind::Shm => {
                let sock = std::os::unix::net::UnixStream::connect(addr).map_err(|e| e.to_string())?;
                let ring = unsafe {
                    let fd = libc::memfd_create(c"ddclab-memu-ring".as_ptr(), libc::MFD_CLOEXEC);
                    if fd < 0 || libc::ftruncate(fd, RING_BYTES as i64) != 0 {
                        return Err("cannot create the shared-memory ring".into());
                    }
                    let p = crate::sys::mmap(0, RING_BYTES as u64, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
                        .map_err(|e| format!("cannot map the ring (errno {e})"))?;
                    (*(p as *mut Ring)).group = group;
                    proto::send_fd(&sock, fd).map_err(|e| format!("cannot pass the ring to the blade: {e}"))?;
                    libc::close(fd);
                    p as *mut Ring
                };
                Ok(Conn::Shm { ring, _sock: sock })
            }
            BackendKind::InProc => Err("not a blade backend".into()),
        }
    }

    /// One request/response exchange. `put` is sent with PUT; `get` receives
    /// the page of a GET. Returns the server's status.
    pub fn request(&mut self, op: u32, key: u64, put: Option<&[u8]>, get: Option<&mut [u8]>) -> Result<u32, i32> {
        match self {
            Conn::Tcp(s) => {
                let mut msg = [0u8; 16 + PAGE];
                msg[..16].copy_from_slice(&proto::header(op, key));
                let n = match put {
                    Some(p) => {
                        msg[16..].copy_from_slice(&p[..PAGE]);
                        16 + PAGE
                    }
                    None => 16,
                };
                s.write_all(&msg[..n]).map_err(io_err)?;
                let mut r = [0u8; 8];
                s.read_exact(&mut r).map_err(io_err)?;
                let st = u32::from_le_bytes(r[0..4].try_into().unwrap());
                if st == proto::ST_OK {
                    if let Some(g) = get {
                        s.read_exact(&mut g[..PAGE]).map_err(io_err)?;
                    }
                }
                Ok(st)
            }
            Conn::Shm { ring, .. } => unsafe {
                let r = &mut **ring;
                r.op = op;
                r.key = key;
                if let Some(p) = put {
                    r.data.copy_from_slice(&p[..PAGE]);
                }
                let seq = r.req_seq.load(Ordering::Relaxed).wrapping_add(1);
                r.req_seq.store(seq, Ordering::Release);
                proto::futex_wake(&r.req_seq);
                // Spin briefly (a blade on an idle core answers in microseconds; on a
                // busy machine spinning only steals its CPU),
                // then sleep on the futex; ~5 s of silence means the blade is gone.
                let mut spins = 0u32;
                let mut sleeps = 0u32;
                loop {
                    let got = r.resp_seq.load(Ordering::Acquire);
                    if got == seq {
                        break;
                    }
                    if spins < 300 {
                        spins += 1;
                        std::hint::spin_loop();
                    } else {
                        sleeps += 1;
                        if sleeps > 50 {
                            return Err(libc::EPIPE);
                        }
                        proto::futex_wait(&r.resp_seq, got, 100_000_000);
                    }
                }
                let st = r.status;
                if st == proto::ST_OK {
                    if let Some(g) = get {
                        g[..PAGE].copy_from_slice(&r.data);
                    }
                }
                Ok(st)
            },
        }
    }
}

/// The blade connections of one process and its key allocator (shared by the
/// handler and the evictor, outside the page-table lock).
pub struct BladeConns {
    pub fetch: Lock<Conn>,
    pub evict: Lock<Conn>,
    next_key: AtomicU64,
}

/// The page-table-side state of a blade store: staging slots and keys to free.
pub struct BladeStore {
    pub staging: InProc,
    pub to_free: Vec<u64>,
}

impl BladeStore {
    pub fn new(uffd_fd: i32, mode: u64) -> Result<BladeStore, String> {
        let staging = InProc::reserve(uffd_fd, mode).map_err(|e| format!("cannot create the staging area (errno {e})"))?;
        Ok(BladeStore { staging, to_free: Vec::new() })
    }
}

impl Conn {
    fn raw_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Shm { _sock, .. } => _sock.as_raw_fd(),
        }
    }
}

impl BladeConns {
    /// The connections' descriptors (see `Emu::own_fds`). Called before the
    /// service threads use the connections.
    pub fn fds(&self) -> [i32; 2] {
        unsafe { [self.fetch.get_mut_unchecked().raw_fd(), self.evict.get_mut_unchecked().raw_fd()] }
    }

    pub fn connect(cfg: &Config) -> Result<BladeConns, String> {
        let group = ((unsafe { libc::getpid() } as u64) << 32) ^ crate::sys::now_ns();
        let fetch = Conn::connect(cfg.backend, &cfg.backend_addr, group)?;
        let evict = Conn::connect(cfg.backend, &cfg.backend_addr, group)?;
        Ok(BladeConns { fetch: Lock::new(fetch), evict: Lock::new(evict), next_key: AtomicU64::new(1) })
    }

    pub fn new_key(&self) -> u64 {
        self.next_key.fetch_add(1, Ordering::Relaxed)
    }

    /// GET the page of `key` and install it at `addr`.
    pub fn fetch(&self, uffd_fd: i32, key: u64, addr: u64, mode: u64) -> Result<(), i32> {
        let mut buf = [0u8; PAGE];
        let st = self.fetch.lock().request(proto::OP_GET, key, None, Some(&mut buf))?;
        if st != proto::ST_OK {
            crate::sys::write_all(2, format!("ddclab-memu: the blade lost page key {key} (status {st})\n").as_bytes());
            return Err(libc::EIO);
        }
        let wp = if mode & uffd::REGISTER_MODE_WP != 0 { uffd::COPY_MODE_WP } else { 0 };
        uffd::copy(uffd_fd, addr, buf.as_ptr() as u64, PAGE as u64, wp).map(|_| ()).map_err(|e| e.0)
    }

    /// PUT the page now sitting in staging slot `stage` under `key`.
    pub fn put(&self, key: u64, stage: u64) -> Result<(), i32> {
        let page = unsafe { std::slice::from_raw_parts(stage as *const u8, PAGE) };
        match self.evict.lock().request(proto::OP_PUT, key, Some(page), None)? {
            proto::ST_OK => Ok(()),
            _ => Err(libc::EIO),
        }
    }

    pub fn free_keys(&self, keys: &[u64]) {
        let mut c = self.evict.lock();
        for &k in keys {
            let _ = c.request(proto::OP_FREE, k, None, None);
        }
    }
}
