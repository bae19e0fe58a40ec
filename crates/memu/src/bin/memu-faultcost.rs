//! memu-faultcost: measure the end-to-end cost of a remote-memory fault as the
//! program sees it, under the ddclab-memu shim.
//!
//! Run it preloaded with a small local budget and readahead 1. It fills a
//! buffer (most of it goes remote), then touches pages in a random order and
//! times each touch of a page that mincore() reports as not resident -- so every
//! sample is one full miss: trap, handler wake-up, lookup, injected delay,
//! install, and the faulting thread's wake-up. With zero injected delay that is
//! the emulator's own per-fault cost.
//!
//! Usage: memu-faultcost PAGES SAMPLES SEED [WRITE]
//! WRITE=1 times write faults (the touch stores the byte it expects back)
//! instead of read faults.
//! Prints one JSON object: {"samples_ns": [...], "fill_ns": N, "pages": N}.

#[path = "../sys.rs"]
#[allow(dead_code)]
mod sys;
#[path = "../tool_args.rs"]
mod tool_args;

use std::time::Instant;
use tool_args::{arg, flag};

fn main() {
    let pages = arg(1, 8192).max(16) as usize;
    let samples = arg(2, 2000) as usize;
    let mut seed = arg(3, 1) | 1;
    let write = flag(4, "WRITE");
    const PAGE: usize = 4096;
    let len = pages * PAGE;
    let base = sys::anon(len as u64).unwrap_or_else(|_| {
        eprintln!("error: cannot map {len} bytes");
        std::process::exit(2)
    }) as *mut u8;
    let t0 = Instant::now();
    for p in 0..pages {
        unsafe { base.add(p * PAGE).write_volatile(p as u8 | 1) };
    }
    let fill_ns = t0.elapsed().as_nanos() as u64;
    // Let the evictor settle below its watermark.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut out: Vec<u64> = Vec::with_capacity(samples);
    let mut vec = [0u8; 1];
    let mut attempts = 0usize;
    while out.len() < samples && attempts < samples * 50 {
        attempts += 1;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let p = (seed % pages as u64) as usize;
        let addr = unsafe { base.add(p * PAGE) };
        if unsafe { libc::mincore(addr as *mut libc::c_void, PAGE, vec.as_mut_ptr()) } != 0 || vec[0] & 1 != 0 {
            continue;
        }
        let t = Instant::now();
        let v = if write {
            // A write fault; the byte written is the one the page holds, so
            // the check below still tells whether the page's content came
            // back (an atomic fetch-add of 0 is a write that returns it).
            unsafe { (*(addr as *const std::sync::atomic::AtomicU8)).fetch_add(0, std::sync::atomic::Ordering::Relaxed) }
        } else {
            unsafe { addr.read_volatile() }
        };
        let dt = t.elapsed().as_nanos() as u64;
        if v != (p as u8 | 1) {
            eprintln!("error: page {p} came back with {v}, expected {}", p as u8 | 1);
            std::process::exit(3);
        }
        out.push(dt);
    }
    let list: Vec<String> = out.iter().map(|x| x.to_string()).collect();
    println!("{{\"pages\": {pages}, \"fill_ns\": {fill_ns}, \"samples_ns\": [{}]}}", list.join(","));
}
