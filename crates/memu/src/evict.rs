//! The evictor thread: keeps the local resident set within the budget, off
//! the fault path.
//!
//! Watermarks: it wakes when resident pages exceed `wake_mark` and evicts in
//! batches until they are at or below `target_mark`. Victims come from CLOCK
//! (pages.rs). With dirty tracking on, the reference information also comes from
//! the kernel: PAGEMAP_SCAN reports which candidates were written since the last
//! scan (async write-protect) and re-protects them in the same call; written
//! candidates get a second chance, and a page is written back only if it was
//! written since it was last fetched -- clean pages cost no write traffic.
//!
//! A victim leaves the program's address space with UFFDIO_MOVE, atomically: a
//! thread touching it afterwards faults and waits for the batch to finish, so no
//! write can slip in between "copy" and "drop".

use crate::emu::Emu;
use crate::netmodel::Dir;
use crate::pages::State;
use crate::stats::Counter;
use crate::store::Store;
use crate::sys::{self, now_ns};
use crate::trace;
use crate::uffd::{self, PageRegion, PAGE};
use std::sync::atomic::Ordering;

const RESCAN_NS: u64 = 20_000_000;

pub fn evictor_main(emu: &'static Emu) {
    let mut last_rescan = now_ns();
    loop {
        if emu.off.load(Ordering::Acquire) {
            // The program closed the userfaultfd (`Emu::lose_uffd`): nothing
            // to evict into any more, ever.
            loop {
                sys::sleep_ns(3_600_000_000_000);
            }
        }
        let seen = emu.evict_word.load(Ordering::Acquire);
        let now = now_ns();
        if now - last_rescan > RESCAN_NS {
            // glibc creates arenas and large-chunk mmaps with internal calls
            // that cannot be interposed: find them in /proc/self/maps.
            let mut core = emu.core.lock();
            emu.rescan(&mut core);
            last_rescan = now;
        }
        discard_slots(emu);
        let resident = emu.core.lock().pt.resident;
        if resident <= emu.wake_mark {
            emu.evictor_idle.store(true, Ordering::SeqCst);
            if emu.evict_word.load(Ordering::SeqCst) != seen {
                continue;
            }
            let ts = libc::timespec { tv_sec: 0, tv_nsec: 5_000_000 };
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    emu.evict_word.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    seen,
                    &ts as *const libc::timespec,
                );
            }
            emu.evictor_idle.store(false, Ordering::Release);
            continue;
        }
        let mut stuck = 0;
        while emu.core.lock().pt.resident > emu.target_mark && stuck < 3 {
            if evict_batch(emu) == 0 {
                stuck += 1;
            } else {
                stuck = 0;
                emu.evict_stuck.store(false, Ordering::Relaxed);
            }
        }
        if stuck >= 3 {
            // If no local page is a candidate at all (all pinned, e.g. made
            // read-only), faults waiting for room would wait in vain: let
            // them overshoot the budget now rather than after MAX_STALL_NS
            // each (20 ms per fault). Transient failures (pages being
            // written, shared with a fork child) do not count.
            let none_evictable = {
                let core = emu.core.lock();
                !core.pt.clock.iter().any(|v| core.pt.pages.get(v).is_some_and(|p| p.state == State::Resident))
            };
            if none_evictable && !emu.evict_stuck.swap(true, Ordering::Relaxed) {
                emu.signal_room();
            }
            // Nothing evictable right now (pages shared with a fork child or
            // in flight): back off instead of spinning.
            let ts = libc::timespec { tv_sec: 0, tv_nsec: 1_000_000 };
            unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
        }
    }
}

/// Move `n` contiguous pages at `src` to the contiguous slots at `dst` with
/// one `UFFDIO_MOVE`, so the kernel flushes the run from the other CPUs once
/// instead of once per page; the outcome of each page. After any error each
/// page of the run is looked at: one that moved counts as moved (the kernel's
/// count is not trusted, see `Emu::move_page`), the others are moved one by
/// one, with `move_page`'s checks.
fn move_run(emu: &Emu, dst: u64, src: u64, n: u64) -> Vec<Result<(), i32>> {
    emu.stats.add(Counter::EvictMoves, 1);
    if n == 1 {
        return vec![emu.move_page_with(emu.store_uffd, dst, src, false)];
    }
    if let Ok(moved) = uffd::mv(emu.store_uffd, dst, src, n * PAGE, uffd::MOVE_MODE_DONTWAKE) {
        if moved == n * PAGE {
            return vec![Ok(()); n as usize];
        }
    }
    (0..n)
        .map(|k| {
            let (d, s) = (dst + k * PAGE, src + k * PAGE);
            match (emu.present(d), emu.present(s)) {
                (Some(true), Some(false)) => Ok(()),
                _ => emu.move_page_with(emu.store_uffd, d, s, false),
            }
        })
        .collect()
}

/// Release store slots whose pages the program freed. MADV_DONTNEED on the
/// (registered) store raises a REMOVE event that the handler reads, which is
/// why only this thread may do it.
fn discard_slots(emu: &Emu) {
    let _fork = emu.fork_lock.lock();
    if emu.off.load(Ordering::Acquire) {
        return;
    }
    let (mut slots, keys) = {
        let mut core = emu.core.lock();
        match &mut core.store {
            Store::InProc(s) => (std::mem::take(&mut s.discard), Vec::new()),
            Store::Blade(b) => (std::mem::take(&mut b.staging.discard), std::mem::take(&mut b.to_free)),
        }
    };
    if let (Some(b), false) = (&emu.blade, keys.is_empty()) {
        b.free_keys(&keys);
    }
    if slots.is_empty() {
        return;
    }
    // One madvise (and one REMOVE event) per contiguous run of slots.
    slots.sort_unstable();
    let pages: Vec<u64> = slots.iter().map(|s| s / PAGE).collect();
    for (start, n) in crate::fault::runs(&pages) {
        unsafe { sys::madvise(start * PAGE, n * PAGE, libc::MADV_DONTNEED) };
    }
    let mut core = emu.core.lock();
    let st = match &mut core.store {
        Store::InProc(s) => s,
        Store::Blade(b) => &mut b.staging,
    };
    for s in slots {
        st.release_empty(s);
    }
}

/// Written-since-last-scan bits of [start, end), re-arming write protection.
fn written_pages(emu: &Emu, start: u64, end: u64, out: &mut Vec<u64>) {
    let mut buf = [PageRegion::default(); 64];
    let flags = uffd::PM_SCAN_WP_MATCHING | uffd::PM_SCAN_CHECK_WPASYNC;
    if let Ok((n, _)) =
        uffd::pagemap_scan(emu.pagemap_fd, start, end, flags, uffd::PAGE_IS_WRITTEN, uffd::PAGE_IS_WRITTEN, &mut buf)
    {
        for r in &buf[..n] {
            out.extend(r.start / PAGE..r.end / PAGE);
        }
    }
}

/// Evict one batch; returns the number of pages that left local memory.
fn evict_batch(emu: &Emu) -> usize {
    let _fork = emu.fork_lock.lock();
    if emu.off.load(Ordering::Acquire) {
        return 0;
    }
    let t0 = now_ns();
    let dirty_tracking = emu.reg_mode & uffd::REGISTER_MODE_WP != 0;
    let batch = emu.cfg.evict_batch;
    // vpn, slot (in-process store address or blade key), dirty, staging slot (blade)
    let mut victims: Vec<(u64, u64, bool, u64)> = Vec::with_capacity(batch);
    // Choose victims under the lock; read their written bits without it (the
    // PAGEMAP_SCAN calls are the slow part, and the handler needs the lock).
    let written_of = |picked: &mut Vec<u64>| -> Vec<u64> {
        let mut written = Vec::new();
        if dirty_tracking && !picked.is_empty() {
            picked.sort_unstable();
            for (s, n) in crate::fault::runs(picked) {
                written_pages(emu, s * PAGE, (s + n) * PAGE, &mut written);
            }
        }
        written
    };
    let mut picked = emu.core.lock().pt.select_victims(batch);
    let written = written_of(&mut picked);
    let mut again = Vec::new();
    {
        let mut core = emu.core.lock();
        // Written since the last look: referenced. Second chance, once.
        for v in &written {
            if let Some(p) = core.pt.pages.get_mut(v) {
                p.dirty = true;
                if p.state == State::Evicting {
                    p.state = State::Resident;
                    p.refbit = false; // this rescue was its second chance
                    core.pt.clock.push_back(*v);
                }
            }
        }
        picked.retain(|v| core.pt.pages.get(v).is_some_and(|p| p.state == State::Evicting));
        if picked.is_empty() && dirty_tracking {
            // Everything was hot: take the next candidates without rescue.
            again = core.pt.select_victims(batch);
        }
    }
    if !again.is_empty() {
        let w = written_of(&mut again);
        let mut core = emu.core.lock();
        for v in &w {
            if let Some(p) = core.pt.pages.get_mut(v) {
                p.dirty = true;
            }
        }
        picked = again;
    }
    {
        let mut core = emu.core.lock();
        picked.retain(|v| core.pt.pages.get(v).is_some_and(|p| p.state == State::Evicting));
        picked.sort_unstable();
        let core = &mut *core;
        // Contiguous victims (at most MAX_RUN at a time) get contiguous slots
        // in-process, so each run leaves with one move (see slots.rs).
        for (start, n) in crate::fault::runs(&picked) {
            for first in (start..start + n).step_by(crate::slots::MAX_RUN as usize) {
                let take = (start + n - first).min(crate::slots::MAX_RUN);
                let run = match &mut core.store {
                    Store::InProc(s) if take > 1 => s.alloc_run(take),
                    _ => None,
                };
                for v in first..first + take {
                    let slot = match &mut core.store {
                        Store::InProc(s) => run.map(|r| r + (v - first) * PAGE).or_else(|| s.alloc()).map(|s| (s, 0)),
                        Store::Blade(b) => b.staging.alloc().map(|st| (emu.blade.as_ref().unwrap().new_key(), st)),
                    };
                    let p = core.pt.pages.get_mut(&v).unwrap();
                    match slot {
                        Some((slot, stage)) => victims.push((v, slot, p.dirty || !dirty_tracking, stage)),
                        None => p.state = State::Resident,
                    }
                }
            }
        }
        // Until the moves are done, faults at these addresses wait.
        core.pt.evict_inflight.extend(victims.iter().map(|x| x.0));
    }
    if victims.is_empty() {
        return 0;
    }
    // Move the pages out, without the page-table lock: faults keep being served.
    let mut results: Vec<Result<(), i32>> = Vec::with_capacity(victims.len());
    while results.len() < victims.len() {
        let (v, slot, _dirty, stage) = victims[results.len()];
        match &emu.blade {
            // In-process: the run of victims whose pages and slots are both
            // contiguous leaves with one move.
            None => {
                let n = victims[results.len()..]
                    .iter()
                    .zip(0..)
                    .take_while(|&(x, k)| x.0 == v + k && x.1 == slot + k * PAGE)
                    .count();
                results.extend(move_run(emu, slot, v * PAGE, n as u64));
            }
            Some(b) => results.push(match emu.move_page(stage, v * PAGE, false) {
                // The page is out of the program's reach; ship it. A failed
                // send puts it back where it was.
                Ok(_) => b.put(slot, stage).map_err(|e| {
                    let _ = uffd::mv(emu.uffd, v * PAGE, stage, PAGE, 0);
                    crate::sys::write_all(2, format!("ddclab-memu: blade write failed (errno {e})\n").as_bytes());
                    libc::EBUSY
                }),
                Err(e) => Err(e),
            }),
        }
    }
    let mut evicted = 0usize;
    let mut written_back: Vec<u64> = Vec::new();
    {
        let mut core = emu.core.lock();
        for (&(v, slot, dirty, stage), r) in victims.iter().zip(&results) {
            if let Store::Blade(b) = &mut core.store {
                // The staging page was sent (or moved back): recycle the slot.
                // EEXIST: it was found full; discard before reuse.
                if r.is_ok() || *r == Err(libc::EEXIST) {
                    b.staging.discard.push(stage);
                } else {
                    b.staging.release_empty(stage);
                }
            }
            // The victim may have been remapped while in flight (mremap):
            // the outcome lands at its new address. If the move failed because
            // the mapping moved away first, the page moved with it and is
            // still local there.
            let at = core.pt.evicting_at(v);
            match r {
                Ok(()) if at.is_some() => {
                    let p = core.pt.pages.get_mut(&at.unwrap()).unwrap();
                    p.state = State::Remote;
                    p.slot = slot;
                    p.refbit = false;
                    core.pt.resident -= 1;
                    evicted += 1;
                    if dirty {
                        written_back.push(v);
                    }
                }
                Ok(()) => {
                    // The program discarded the page meanwhile (its REMOVE event
                    // already uncounted it): drop the copy.
                    core.store.release_full(slot);
                }
                Err(e) => {
                    if *e == libc::EEXIST {
                        // The slot was found full (the move did not happen:
                        // move_page checked). Never hand it out again before
                        // it is discarded.
                        if let Store::InProc(s) = &mut core.store {
                            s.discard.push(slot);
                        }
                    } else {
                        release_unused(&mut core.store, slot);
                    }
                    let Some(at) = at else { continue };
                    let p = core.pt.pages.get_mut(&at).unwrap();
                    match *e {
                        // Shared with a fork child (or transiently pinned, or
                        // an address-space change being reported): try later.
                        _ if at != v => {
                            p.state = State::Resident;
                            core.pt.clock.push_back(at);
                        }
                        libc::EBUSY | libc::EAGAIN | libc::EEXIST => {
                            p.state = State::Resident;
                            p.refbit = true;
                            core.pt.clock.push_back(at);
                            emu.stats.add(Counter::EvictSkipped, 1);
                        }
                        // Not present after all (discarded by the program
                        // after its REMOVE event was handled; EFAULT: only a
                        // uffd-wp marker is left there): nothing to keep. The
                        // next fault there is a first touch.
                        _ if *e == libc::ENOENT || emu.present(at * PAGE) == Some(false) => {
                            core.pt.pages.remove(&at);
                            core.pt.resident -= 1;
                        }
                        // Locked, not writable, ...: cannot be moved, ever.
                        _ => {
                            if emu.debug {
                                crate::sys::write_all(2, format!("ddclab-memu: pin {:#x} errno {}\n", at * PAGE, *e).as_bytes());
                            }
                            p.state = State::Pinned;
                            emu.stats.add(Counter::EvictSkipped, 1);
                        }
                    }
                }
            }
        }
        core.pt.evict_redirect.clear();
        core.pt.evict_inflight.clear();
        emu.note_resident(&core);
    }
    // A finished batch: faults waiting for room, or for one of its pages,
    // can proceed.
    emu.signal_room();
    let now = now_ns();
    emu.stats.add(Counter::EvictNs, now - t0);
    let batch_id = emu.batch_seq.fetch_add(1, Ordering::Relaxed);
    emu.stats.add(Counter::PagesEvicted, evicted as u64);
    emu.stats.add(Counter::EvictBatches, 1);
    emu.stats.add(Counter::PagesWrittenBack, written_back.len() as u64);
    if !written_back.is_empty() {
        written_back.sort_unstable();
        if let Some(tr) = &emu.trace {
            for (s, n) in crate::fault::runs(&written_back) {
                if tr.record(now, s, n as u32, trace::WRITE, batch_id) {
                    emu.stats.add(Counter::TraceRecords, 1);
                } else {
                    emu.stats.add(Counter::TraceDropped, 1);
                }
            }
        }
        // The write-back occupies the egress link; the next batch waits for it,
        // so eviction cannot outrun the modelled bandwidth.
        let due = emu.core.lock().net.transfer(Dir::Egress, now, written_back.len() as u64 * PAGE);
        if due > now + 200_000 {
            let d = due - now;
            let ts = libc::timespec { tv_sec: (d / 1_000_000_000) as i64, tv_nsec: (d % 1_000_000_000) as i64 };
            unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
        } else {
            sys::spin_until(due);
        }
    }
    evicted
}

fn release_unused(store: &mut Store, slot: u64) {
    match store {
        Store::InProc(s) => s.release_empty(slot),
        Store::Blade(_) => {} // a key that was never PUT needs no FREE
    }
}
