//! memu-blade: the memory-blade server of the remote-memory emulator.
//!
//!   memu-blade tcp ADDR      e.g. 127.0.0.1:0 (prints "listening HOST:PORT")
//!   memu-blade shm SOCKPATH  clients pass a shared-memory ring over this socket
//!
//! Pages are kept in RAM, per client group (one emulated process uses two
//! connections, the handler's and the evictor's, with the same group id); a
//! group's pages are dropped when its last connection closes. The server
//! exits on SIGINT/SIGTERM or when its standard input closes (so a parent that
//! dies cannot leave it behind), removing its socket file.

#[path = "../blade_proto.rs"]
#[allow(dead_code)]
mod proto;

use proto::{Ring, PAGE, RING_BYTES};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

type Pages = HashMap<u64, Box<[u8; PAGE]>>;

/// group -> (pages, open connections)
type GroupMap = HashMap<u64, (Arc<Mutex<Pages>>, usize)>;

#[derive(Default)]
struct Groups {
    map: Mutex<GroupMap>,
}

impl Groups {
    fn join(&self, g: u64) -> Arc<Mutex<Pages>> {
        let mut m = self.map.lock().unwrap();
        let e = m.entry(g).or_insert_with(|| (Arc::new(Mutex::new(HashMap::new())), 0));
        e.1 += 1;
        e.0.clone()
    }
    fn leave(&self, g: u64) {
        let mut m = self.map.lock().unwrap();
        if let Some(e) = m.get_mut(&g) {
            e.1 -= 1;
            if e.1 == 0 {
                m.remove(&g);
            }
        }
    }
}

fn serve_op(pages: &Mutex<Pages>, op: u32, key: u64, data: &mut [u8; PAGE]) -> (u32, bool) {
    let mut p = pages.lock().unwrap();
    match op {
        proto::OP_GET => match p.get(&key) {
            Some(b) => {
                data.copy_from_slice(&b[..]);
                (proto::ST_OK, true)
            }
            None => (proto::ST_MISSING, false),
        },
        proto::OP_PUT => {
            p.insert(key, Box::new(*data));
            (proto::ST_OK, false)
        }
        proto::OP_FREE => {
            p.remove(&key);
            (proto::ST_OK, false)
        }
        proto::OP_PING => (proto::ST_OK, false),
        _ => (proto::ST_BAD, false),
    }
}

fn tcp_conn(mut s: std::net::TcpStream, groups: Arc<Groups>) {
    let _ = s.set_nodelay(true);
    let mut h = [0u8; 16];
    // The first request is a PING carrying the group id.
    if s.read_exact(&mut h).is_err() {
        return;
    }
    let (op, group) = proto::parse_header(&h);
    if op != proto::OP_PING || s.write_all(&[0u8; 8]).is_err() {
        return;
    }
    let pages = groups.join(group);
    let mut data = [0u8; PAGE];
    let mut out = vec![0u8; 8 + PAGE];
    loop {
        if s.read_exact(&mut h).is_err() {
            break;
        }
        let (op, key) = proto::parse_header(&h);
        if op == proto::OP_PUT && s.read_exact(&mut data).is_err() {
            break;
        }
        let (st, with_data) = serve_op(&pages, op, key, &mut data);
        out[0..4].copy_from_slice(&st.to_le_bytes());
        let n = if with_data {
            out[8..].copy_from_slice(&data);
            8 + PAGE
        } else {
            8
        };
        if s.write_all(&out[..n]).is_err() {
            break;
        }
    }
    groups.leave(group);
}

fn shm_conn(sock: std::os::unix::net::UnixStream, groups: Arc<Groups>) {
    use std::os::unix::io::AsRawFd;
    let Some(fd) = proto::recv_fd(&sock) else { return };
    let p = unsafe { libc::mmap(std::ptr::null_mut(), RING_BYTES, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0) };
    unsafe { libc::close(fd) };
    if p == libc::MAP_FAILED {
        return;
    }
    let ring = unsafe { &mut *(p as *mut Ring) };
    let group = ring.group;
    let pages = groups.join(group);
    // The client creates the ring with req_seq = 0 and may post its first
    // request before this thread has mapped it: start from 0, not from the
    // current value, or that request would never be seen.
    let mut last = 0u32;
    'outer: loop {
        // Spin briefly, then sleep on the futex; check the socket for a
        // vanished client now and then.
        let mut spins = 0u32;
        let seq = loop {
            let s = ring.req_seq.load(Ordering::Acquire);
            if s != last {
                break s;
            }
            if spins < 300 {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            proto::futex_wait(&ring.req_seq, s, 50_000_000);
            let mut pfd = libc::pollfd { fd: sock.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            if unsafe { libc::poll(&mut pfd, 1, 0) } > 0 && pfd.revents & (libc::POLLHUP | libc::POLLIN | libc::POLLERR) != 0 {
                break 'outer; // client closed its socket (it never sends more)
            }
        };
        last = seq;
        let (st, _) = serve_op(&pages, ring.op, ring.key, &mut ring.data);
        ring.status = st;
        ring.resp_seq.store(seq, Ordering::Release);
        proto::futex_wake(&ring.resp_seq);
    }
    unsafe { libc::munmap(p, RING_BYTES) };
    groups.leave(group);
}

static mut SOCK_PATH: Option<std::ffi::CString> = None;

extern "C" fn on_signal(_: libc::c_int) {
    unsafe {
        #[allow(static_mut_refs)]
        if let Some(p) = &SOCK_PATH {
            libc::unlink(p.as_ptr());
        }
        libc::_exit(0);
    }
}

fn usage() -> ! {
    eprintln!("error: usage: memu-blade tcp ADDR | memu-blade shm SOCKPATH");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        usage();
    }
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    // Exit when the parent closes our stdin (or dies).
    std::thread::spawn(|| {
        let mut b = [0u8; 64];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut b) {
            if n == 0 {
                break;
            }
        }
        on_signal(0);
    });
    let groups = Arc::new(Groups::default());
    match args[1].as_str() {
        "tcp" => {
            let l = std::net::TcpListener::bind(&args[2]).unwrap_or_else(|e| {
                eprintln!("error: memu-blade: cannot listen on {}: {e}", args[2]);
                std::process::exit(2)
            });
            println!("listening {}", l.local_addr().unwrap());
            let _ = std::io::stdout().flush();
            for s in l.incoming().flatten() {
                let g = groups.clone();
                std::thread::spawn(move || tcp_conn(s, g));
            }
        }
        "shm" => {
            let _ = std::fs::remove_file(&args[2]);
            let l = std::os::unix::net::UnixListener::bind(&args[2]).unwrap_or_else(|e| {
                eprintln!("error: memu-blade: cannot listen on {}: {e}", args[2]);
                std::process::exit(2)
            });
            unsafe { SOCK_PATH = std::ffi::CString::new(args[2].clone()).ok() };
            println!("listening {}", args[2]);
            let _ = std::io::stdout().flush();
            for s in l.incoming().flatten() {
                let g = groups.clone();
                std::thread::spawn(move || shm_conn(s, g));
            }
        }
        _ => usage(),
    }
}
