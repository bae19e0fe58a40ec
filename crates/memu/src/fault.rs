//! The fault-handler thread: reads userfaultfd messages, fills first touches
//! with zeros locally, serves misses of evicted pages from the store after the
//! modelled network delay, and applies remove/unmap/remap events to the page
//! table. It never evicts: when the local budget is full a fault waits for the
//! evictor (counted as stall time).
//!
//! Several faults may be in flight at once: each remote read is booked on the
//! network model when it arrives and installed when its completion time comes,
//! so concurrent misses overlap their latencies as they would on a real link.

use crate::emu::{Core, Emu};
use crate::netmodel::Dir;
use crate::pages::State;
use crate::stats::Counter;
use crate::store::Store;
use crate::sys::{self, now_ns};
use crate::trace;
use crate::uffd::{self, Msg, PAGE};
use std::collections::VecDeque;

struct Pending {
    due: u64,
    t_read: u64,
    injected: u64,
    fault_vpn: u64,
    /// (page number, store slot) of each page of the read.
    pages: Vec<(u64, u64)>,
    batch: u64,
    /// The fault (on `fault_vpn`) was a write.
    write: bool,
}

/// A fault that could not be served yet: no room, or its page is mid-eviction.
struct Deferred {
    addr: u64,
    flags: u64,
    t_read: u64,
    not_before: u64,
}

/// How long a fault may wait for room before the budget is overshot (only
/// when nothing is evictable, e.g. every local page is shared with a child).
const MAX_STALL_NS: u64 = 20_000_000;

/// Bring one page back from the store to `vpn` (waking threads waiting on it).
/// `write`: a thread is about to write it (a write fault on it).
/// Ok(true): the page is clean (nothing written since its last write-back);
/// Ok(false): it must be written back when evicted.
pub fn install(emu: &Emu, core: &mut Core, vpn: u64, slot: u64, write: bool) -> Result<bool, i32> {
    let addr = vpn * PAGE;
    // With dirty tracking a fetched page is write-protected (async: the first
    // write only clears the bit), so the evictor can tell whether it was
    // written since. A page a write fault brings in is written at once: it is
    // simply dirty, and is installed writable.
    let protect = emu.reg_mode & uffd::REGISTER_MODE_WP != 0 && !write;
    match &mut core.store {
        // Copied back, not moved (see store.rs): the copy installs the page
        // into an empty entry, which needs no TLB flush, and write-protects it
        // in the same ioctl. (Moving it back cost a flush of the slot on the
        // other CPU, and a second ioctl with its own flush for the
        // protection.) The slot keeps a stale copy until the evictor discards
        // it. A copy also works where a move would not: a page evicted while
        // writable whose mapping the program then made read-only (mprotect).
        Store::InProc(s) => {
            let mode = if protect { uffd::COPY_MODE_WP } else { 0 };
            match uffd::copy(emu.uffd, addr, slot, PAGE, mode) {
                Ok(_) => {
                    s.discard.push(slot);
                    Ok(!write)
                }
                // EAGAIN: an address-space change is being reported; the
                // caller retries once the handler has read it.
                Err((e, _)) => Err(e),
            }
        }
        Store::Blade(b) => {
            // The remote copy is freed (in the background) only once the page
            // is installed: an install refused with EAGAIN is retried.
            emu.blade.as_ref().unwrap().fetch(emu.uffd, slot, addr, emu.reg_mode)?;
            b.to_free.push(slot);
            Ok(true)
        }
    }
}

pub fn handler_main(emu: &'static Emu) {
    let mut msgs = [Msg::default(); 64];
    let mut pending: Vec<Pending> = Vec::new();
    let mut deferred: VecDeque<Deferred> = VecDeque::new();
    let mut room_freed = false;
    let mut eventfds_lost = false;
    emu.req.handler_tid.store(unsafe { libc::gettid() }, std::sync::atomic::Ordering::Release);
    loop {
        // 0. Work handed over by the interposed calls (see `Emu::request`).
        emu.serve_requests();
        let now = now_ns();
        // 1. Complete remote reads whose modelled time has come (the lock is
        //    taken only then: the evictor needs it too).
        if pending.iter().any(|p| p.due <= now) {
            let mut core = emu.core.lock();
            let mut i = 0;
            while i < pending.len() {
                if pending[i].due <= now {
                    let p = pending.swap_remove(i);
                    if let Some(r) = complete(emu, &mut core, p) {
                        pending.push(r);
                    }
                } else {
                    i += 1;
                }
            }
        }
        // 2. Retry deferred faults, oldest first: those waiting for room when
        //    the evictor has freed some (or they waited too long), the others
        //    when their retry time has come.
        if !deferred.is_empty() {
            let n = deferred.len();
            for _ in 0..n {
                let d = deferred.pop_front().unwrap();
                let due = if d.not_before == 0 {
                    room_freed || now.saturating_sub(d.t_read) > MAX_STALL_NS
                } else {
                    room_freed || d.not_before <= now
                };
                if !due {
                    deferred.push_back(d);
                    continue;
                }
                if let Some(d) = fault(emu, d, &mut pending, now) {
                    deferred.push_back(d);
                }
            }
            room_freed = false;
        }
        // 3. New messages.
        match uffd::read_msgs(emu.uffd, &mut msgs) {
            Ok(n) => {
                let t = now_ns();
                for m in &msgs[..n] {
                    handle(emu, m, t, &mut pending, &mut deferred);
                }
                continue;
            }
            Err(libc::EAGAIN) | Err(libc::EINTR) => {}
            // EBADF, or whatever the file now at that number says: the
            // program closed the userfaultfd (see `Emu::lose_uffd`).
            Err(_) if !emu.uffd_intact() => emu.lose_uffd(),
            Err(e) => {
                sys::write_all(2, format!("ddclab-memu: userfaultfd read failed (errno {e})\n").as_bytes());
                unsafe { libc::_exit(125) };
            }
        }
        if emu.cfg.spin {
            continue;
        }
        // 4. Nothing to read: sleep until a message, room, or the next deadline.
        //    Deadlines closer than 50 us are spun for: a sleep cannot hit them.
        let now = now_ns();
        let mut wait_ns: Option<u64> = None;
        for p in &pending {
            wait_ns = Some(wait_ns.map_or(p.due.saturating_sub(now), |w| w.min(p.due.saturating_sub(now))));
        }
        for d in &deferred {
            let t = if d.not_before == 0 { (d.t_read + MAX_STALL_NS).saturating_sub(now) } else { d.not_before.saturating_sub(now) };
            wait_ns = Some(wait_ns.map_or(t, |w| w.min(t)));
        }
        if wait_ns.is_some_and(|w| w < 50_000) {
            continue;
        }
        // Never sleep unboundedly: a request whose wake-up could not be
        // sent (the program closed its copy of the eventfd) is found within
        // 20 ms, and then every millisecond; without private descriptor
        // tables a closed userfaultfd is released (and noticed) only once
        // this poll returns.
        let cap = if eventfds_lost || emu.req.fd_lost.load(std::sync::atomic::Ordering::Relaxed) { 1_000_000 } else { 20_000_000 };
        wait_ns = Some(wait_ns.map_or(cap, |w| w.min(cap)));
        emu.room_waiters.store(!deferred.is_empty(), std::sync::atomic::Ordering::SeqCst);
        let ev = |fd: i32| if eventfds_lost { -1 } else { fd };
        let mut fds = [
            libc::pollfd { fd: emu.uffd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: ev(emu.room_fd), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: ev(emu.req.fd), events: libc::POLLIN, revents: 0 },
        ];
        let ts = wait_ns.map(|w| libc::timespec { tv_sec: (w / 1_000_000_000) as i64, tv_nsec: (w % 1_000_000_000) as i64 });
        let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        unsafe { libc::ppoll(fds.as_mut_ptr(), 3, tsp, std::ptr::null()) };
        // A closed descriptor polls as POLLNVAL (userfaultfd's release wakes
        // this poll); a reused number as whatever its new file says. The
        // identity check costs a system call, so it is made only when the
        // userfaultfd reports anything but readable.
        if fds[0].revents & !libc::POLLIN != 0 && !emu.uffd_intact() {
            emu.lose_uffd();
        }
        if (fds[1].revents | fds[2].revents) & libc::POLLNVAL != 0 {
            // The program closed the eventfds but not the userfaultfd (it
            // closed descriptors it does not own, one by one): keep serving
            // faults, polling for room and requests instead.
            eventfds_lost = true;
        }
        if eventfds_lost {
            room_freed = true; // the evictor's signal cannot arrive: look anyway
        }
        if fds[1].revents & libc::POLLIN != 0 {
            let mut v = 0u64;
            unsafe { libc::read(emu.room_fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
            room_freed = true;
        }
        if fds[2].revents & libc::POLLIN != 0 {
            let mut v = 0u64;
            unsafe { libc::read(emu.req.fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
        }
    }
}

fn handle(emu: &Emu, m: &Msg, t: u64, pending: &mut Vec<Pending>, deferred: &mut VecDeque<Deferred>) {
    if emu.debug && m.event == uffd::EVENT_PAGEFAULT {
        let core = emu.core.lock();
        let st = core.pt.pages.get(&(m.b / PAGE)).map(|p| p.state);
        let reg = core.pt.is_registered(m.b);
        drop(core);
        sys::write_all(2, format!("ddclab-memu: fault {:#x} flags {:#x} state {:?} reg {reg}\n", m.b, m.a, st).as_bytes());
    }
    if emu.debug && m.event != uffd::EVENT_PAGEFAULT {
        sys::write_all(2, format!("ddclab-memu: event {:#x} {:#x} {:#x} {:#x}\n", m.event, m.a, m.b, m.c).as_bytes());
    }
    match m.event {
        uffd::EVENT_PAGEFAULT => {
            emu.stats.add(Counter::Faults, 1);
            let d = Deferred { addr: m.b, flags: m.a, t_read: t, not_before: 0 };
            if let Some(d) = fault(emu, d, pending, t) {
                deferred.push_back(d);
            }
        }
        uffd::EVENT_REMOVE | uffd::EVENT_UNMAP => {
            emu.stats.add(Counter::Events, 1);
            let (start, end) = (m.a, m.b);
            if emu.is_own(start) {
                return; // the evictor discarding store slots
            }
            let mut core = emu.core.lock();
            let mut freed = Vec::new();
            core.pt.forget(start, end, &mut freed);
            for s in freed {
                core.store.release_full(s);
            }
            if m.event == uffd::EVENT_UNMAP {
                core.pt.remove_region(start, end);
            }
            emu.note_resident(&core);
        }
        uffd::EVENT_REMAP => {
            emu.stats.add(Counter::Events, 1);
            let mut core = emu.core.lock();
            core.pt.remap(m.a, m.b, m.c);
        }
        _ => {}
    }
}

/// Try to serve one fault; returns it back if it must wait.
fn fault(emu: &Emu, d: Deferred, pending: &mut Vec<Pending>, now: u64) -> Option<Deferred> {
    let addr = d.addr & !(PAGE - 1);
    let vpn = addr / PAGE;
    let write = d.flags & uffd::PAGEFAULT_FLAG_WRITE != 0;
    let mut core = emu.core.lock();
    if emu.is_own(addr) {
        // Nothing of the shim's own store is ever accessed by the program; a
        // stray access (e.g. via /proc/self/mem) just reads zeros.
        let _ = uffd::zeropage(emu.uffd, addr, PAGE, 0);
        return None;
    }
    if !core.pt.is_registered(addr) {
        // A registered mapping grew in place (mremap, brk) or was created by
        // glibc itself: learn its extent.
        emu.rescan(&mut core);
    }
    if core.pt.evict_inflight.contains(&vpn) {
        // The evictor is moving a page away from this address right now:
        // anything installed here before its move would be carried off.
        // Look again when the batch has finished.
        emu.stats.add(Counter::EvictRaces, 1);
        return Some(Deferred { not_before: now + 1_000_000, ..d });
    }
    let state = core.pt.pages.get(&vpn).map(|p| p.state);
    let room = |core: &Core, n: u64| core.pt.resident + n <= emu.budget();
    let stalled = now.saturating_sub(d.t_read) > MAX_STALL_NS || emu.evict_stuck.load(std::sync::atomic::Ordering::Relaxed);
    match state {
        None => {
            if !room(&core, 1) && !stalled {
                emu.wake_evictor();
                return Some(d);
            }
            let fill = || {
                if write {
                    uffd::copy(emu.uffd, addr, emu.zero_page, PAGE, 0).map(|_| ()).map_err(|e| e.0)
                } else {
                    uffd::zeropage(emu.uffd, addr, PAGE, 0)
                }
            };
            let mut r = fill();
            if r == Err(libc::EEXIST) && emu.present(addr) == Some(false) {
                // Not a page but a uffd-wp marker, which ZEROPAGE refuses to
                // replace (see Emu::clear_marker); a bare wake would have
                // the thread fault here forever.
                emu.clear_marker(addr);
                r = fill();
            }
            match r {
                Ok(()) => {
                    core.pt.insert_resident(vpn, true, true);
                    emu.stats.add(Counter::ZeroFills, 1);
                }
                Err(libc::EEXIST) => {
                    let _ = uffd::wake(emu.uffd, addr, PAGE);
                }
                // An address-space change is being reported: retry once the
                // handler has read it, keeping the thread asleep meanwhile.
                Err(libc::EAGAIN) => return Some(Deferred { not_before: now + 5_000, ..d }),
                // The mapping vanished under the fault: let the thread retry
                // (and get SIGSEGV if the address is really gone).
                Err(_) => {
                    let _ = uffd::wake(emu.uffd, addr, PAGE);
                }
            }
            let t = now_ns();
            emu.stats.hist(1, t - d.t_read);
            account_stall(emu, &d, now);
            emu.note_resident(&core);
            None
        }
        Some(State::Remote) => {
            if !room(&core, 1) && !stalled {
                emu.wake_evictor();
                return Some(d);
            }
            // Readahead: the aligned cluster around the miss, remote pages only,
            // as far as the budget allows.
            let ra = emu.cfg.readahead;
            let base = vpn & !(ra - 1);
            let mut free = emu.budget().saturating_sub(core.pt.resident).max(1);
            let mut vpns = Vec::with_capacity(ra as usize);
            vpns.push(vpn);
            free -= 1;
            for v in base..base + ra {
                if free == 0 {
                    break;
                }
                if v != vpn
                    && !core.pt.evict_inflight.contains(&v)
                    && core.pt.pages.get(&v).is_some_and(|p| p.state == State::Remote)
                {
                    vpns.push(v);
                    free -= 1;
                }
            }
            let mut pages = Vec::with_capacity(vpns.len());
            for v in vpns {
                let p = core.pt.pages.get_mut(&v).unwrap();
                p.state = State::Fetching;
                pages.push((v, p.slot));
            }
            let t_issue = now_ns();
            let due = core.net.transfer(Dir::Ingress, t_issue, pages.len() as u64 * PAGE);
            let batch = emu.batch_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            account_stall(emu, &d, now);
            let p = Pending { due, t_read: d.t_read, injected: due - t_issue, fault_vpn: vpn, pages, batch, write };
            if due <= t_issue {
                if let Some(r) = complete(emu, &mut core, p) {
                    pending.push(r);
                }
            } else {
                pending.push(p);
            }
            None
        }
        Some(State::Fetching) => None, // the install wakes every waiter on the page
        Some(State::Resident | State::Pinned) => {
            if emu.present(addr) == Some(false) {
                // Recorded local but gone: the program discarded it
                // (MADV_DONTNEED) after its REMOVE event had been handled --
                // e.g. this very page was faulted in again between the event
                // and the kernel's zap. Its content is zeros now: serve the
                // fault as a first touch. (A bare wake here would have the
                // thread fault again forever.)
                core.pt.pages.remove(&vpn);
                core.pt.resident -= 1;
                emu.stats.add(Counter::StaleLocal, 1);
                if emu.debug {
                    sys::write_all(2, format!("ddclab-memu: stale local page {addr:#x}\n").as_bytes());
                }
                drop(core);
                return fault(emu, d, pending, now);
            }
            // Already served (a racing fault or readahead got there first).
            let _ = uffd::wake(emu.uffd, addr, PAGE);
            None
        }
        Some(State::Evicting) => {
            // Its batch is finishing: look again when the evictor reports a
            // finished batch (or after 1 ms). Busy retries here would steal
            // the CPU the evictor (and a blade server) needs to finish it.
            emu.stats.add(Counter::EvictRaces, 1);
            Some(Deferred { not_before: now + 1_000_000, ..d })
        }
    }
}

fn account_stall(emu: &Emu, d: &Deferred, now: u64) {
    if now > d.t_read + 1_000 && d.not_before == 0 {
        emu.stats.add(Counter::StallNs, now - d.t_read);
    }
}

/// Install the pages of a finished remote read. Pages the kernel refused with
/// EAGAIN (an address-space change is being reported and not yet read) are
/// returned for a retry; their threads stay asleep meanwhile, because a thread
/// that re-faults at once would keep the event queue starved (the kernel hands
/// out page faults before events).
fn complete(emu: &Emu, core: &mut Core, p: Pending) -> Option<Pending> {
    let mut installed: Vec<u64> = Vec::with_capacity(p.pages.len());
    let mut again: Vec<(u64, u64)> = Vec::new();
    for &(vpn, slot) in &p.pages {
        if !core.pt.pages.get(&vpn).is_some_and(|e| e.state == State::Fetching && e.slot == slot) {
            // Discarded (its slot was released with it) or remapped (the
            // slot went along) while in flight. A thread waiting on this
            // address must look again: nothing else would wake it.
            let _ = uffd::wake(emu.uffd, vpn * PAGE, PAGE);
            continue;
        }
        match install(emu, core, vpn, slot, p.write && vpn == p.fault_vpn) {
            Ok(clean) => {
                let e = core.pt.pages.get_mut(&vpn).unwrap();
                e.state = State::Resident;
                e.refbit = vpn == p.fault_vpn;
                e.dirty = !clean;
                core.pt.resident += 1;
                core.pt.clock.push_back(vpn);
                installed.push(vpn);
            }
            Err(libc::EAGAIN) => again.push((vpn, slot)),
            Err(libc::EEXIST) if emu.present(vpn * PAGE) == Some(true) => {
                // A page is already there (the program populated the address
                // some way the emulator did not see): the address space is
                // the truth. Keep that page; the remote copy is obsolete.
                let e = core.pt.pages.get_mut(&vpn).unwrap();
                e.state = State::Resident;
                e.refbit = true;
                e.dirty = true;
                core.pt.resident += 1;
                core.pt.clock.push_back(vpn);
                core.store.release_full(slot);
                let _ = uffd::wake(emu.uffd, vpn * PAGE, PAGE);
            }
            Err(e) => {
                // Leave it remote; the next fault retries.
                core.pt.pages.get_mut(&vpn).unwrap().state = State::Remote;
                sys::write_all(2, format!("ddclab-memu: fetch of page {vpn:#x} failed (errno {e})\n").as_bytes());
                let _ = uffd::wake(emu.uffd, vpn * PAGE, PAGE);
            }
        }
    }
    let retry = if again.is_empty() {
        None
    } else {
        Some(Pending { due: now_ns() + 5_000, pages: again, ..p })
    };
    if installed.is_empty() {
        return retry;
    }
    let done = now_ns();
    if let Some(tr) = &emu.trace {
        installed.sort_unstable();
        for (start, n) in runs(&installed) {
            if tr.record(done, start, n as u32, trace::READ, p.batch) {
                emu.stats.add(Counter::TraceRecords, 1);
            } else {
                emu.stats.add(Counter::TraceDropped, 1);
            }
        }
    }
    let overhead = (done - p.t_read).saturating_sub(p.injected);
    emu.stats.add(Counter::RemoteFaults, 1);
    emu.stats.add(Counter::PagesFetched, installed.len() as u64);
    emu.stats.add(Counter::FetchBatches, 1);
    emu.stats.add(Counter::InjectedNs, p.injected);
    emu.stats.add(Counter::HandlerNs, overhead);
    emu.stats.hist(0, overhead);
    emu.note_resident(core);
    retry
}

/// Contiguous runs (start, length) of a sorted page list.
pub fn runs(v: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &x in v {
        match out.last_mut() {
            Some((s, n)) if *s + *n == x => *n += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_coalesce_contiguous_pages() {
        assert_eq!(super::runs(&[1, 2, 3, 7, 9, 10]), vec![(1, 3), (7, 1), (9, 2)]);
        assert!(super::runs(&[]).is_empty());
    }
}
