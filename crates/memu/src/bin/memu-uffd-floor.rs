//! memu-uffd-floor: the cost of a bare userfaultfd round trip on this machine,
//! without the emulator -- the floor under `memu-faultcost`.
//!
//! One thread touches never-used pages of a registered mapping, one at a
//! time; a server thread reads each fault and answers it with one
//! `UFFDIO_COPY` of a prepared page. There is no page table, no eviction and no
//! network model: what is left is the trap, the kernel queueing the fault, the
//! server's wake-up (or its spin), the copy, and the faulting thread's
//! wake-up. No emulator can be faster than this on the same machine.
//!
//! Usage: memu-uffd-floor SAMPLES SPIN   (SPIN 1: the server busy-polls)
//! Prints one JSON object: {"samples_ns": [...]}.
//! Run it without the shim preloaded (it manages its own userfaultfd).

#[path = "../uffd.rs"]
#[allow(dead_code)]
mod uffd;

#[path = "../sys.rs"]
#[allow(dead_code)]
mod sys;
#[path = "../tool_args.rs"]
mod tool_args;

use std::time::Instant;
use tool_args::{arg, flag};

const PAGE: usize = 4096;

fn fail(what: &str, e: i32) -> ! {
    eprintln!("error: {what} failed (errno {e})");
    std::process::exit(1)
}

fn main() {
    let samples = arg(1, 4000).max(1) as usize;
    let spin = flag(2, "SPIN");
    let (fd, _) = uffd::open(0).unwrap_or_else(|e| fail("userfaultfd", e));
    if spin {
        unsafe { libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK) };
    }
    let len = samples * PAGE;
    let map = |len: usize| sys::anon(len as u64).unwrap_or_else(|e| fail("mmap", e));
    let base = map(len);
    let src = map(PAGE);
    unsafe { std::ptr::write_bytes(src as *mut u8, 7, PAGE) };
    uffd::register(fd, base, len as u64, uffd::REGISTER_MODE_MISSING).unwrap_or_else(|e| fail("UFFDIO_REGISTER", e));
    std::thread::spawn(move || {
        let mut msgs = [uffd::Msg::default(); 8];
        loop {
            if !spin {
                let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
                unsafe { libc::poll(&mut p, 1, -1) };
            }
            if let Ok(n) = uffd::read_msgs(fd, &mut msgs) {
                for m in &msgs[..n] {
                    if m.event == uffd::EVENT_PAGEFAULT {
                        let _ = uffd::copy(fd, m.b & !(PAGE as u64 - 1), src, PAGE as u64, 0);
                    }
                }
            }
        }
    });
    let mut out: Vec<u64> = Vec::with_capacity(samples);
    for i in 0..samples {
        let addr = (base as usize + i * PAGE) as *const u8;
        let t = Instant::now();
        let v = unsafe { addr.read_volatile() };
        out.push(t.elapsed().as_nanos() as u64);
        if v != 7 {
            eprintln!("error: page {i} came back wrong ({v})");
            std::process::exit(1);
        }
    }
    let list: Vec<String> = out.iter().map(|x| x.to_string()).collect();
    println!("{{\"samples_ns\": [{}]}}", list.join(", "));
}
