//! Events and the event queue.
//!
//! An event is a small plain value ordered by (time, sequence number). The
//! sequence number is the order of scheduling, which makes ties deterministic:
//! two events at the same picosecond run in the order they were scheduled.
//! The queue is a timing wheel (see [`EventQueue`]).

use crate::ids::PortId;
use crate::packet::PacketId;
use crate::units::Picos;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A (non-FIFO) port's link is free: it may start its next packet.
    PortFree(PortId),
    /// The head packet of a port's link reaches the far end (its header for
    /// cut-through switches, its last byte for store-and-forward switches and
    /// for hosts). The packet is named so that its memory can be fetched
    /// before the event runs.
    LinkArrive(PortId, PacketId),
    /// The next flow in the workload arrives at its source.
    FlowArrival,
    /// A transport timer; the meaning of the two words is the transport's.
    Timer(u32, u32),
    /// Record a sample of the time series.
    Sample,
}

#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub time: Picos,
    pub kind: EventKind,
}

/// A timing wheel (calendar queue).
///
/// Datacenter simulations schedule almost every event a few hundred
/// nanoseconds to a few microseconds ahead (a serialization plus a
/// propagation delay), and the events are dense: hundreds per simulated
/// microsecond. A wheel of `SLOTS` slots of `2^SLOT_BITS` ps each files an
/// event in O(1) by its time; popping drains one slot at a time, sorting the
/// few events of a slot by time. Events beyond the wheel's horizon wait in an
/// overflow heap until the wheel reaches them. A bitmap of non-empty slots
/// makes skipping idle stretches cheap.
///
/// Ties in time pop in scheduling order without a sequence number in the
/// wheel: a slot's list holds its events newest first, a *stable* sort keeps
/// that order among equal times, and the slot is popped from its end. The
/// overflow heap orders by (time, sequence), and every event it holds is
/// later than every wheel event (it is beyond the horizon, which only moves
/// forward), so it hands events to the wheel before any later-scheduled event
/// of the same time can be filed there directly.
pub struct EventQueue {
    /// Head of each slot's list of nodes (NIL if empty). Lists are intrusive
    /// over one node pool whose free list is LIFO, so the memory an event
    /// touches stays hot in cache.
    slots: Vec<u32>,
    nodes: Vec<Node>,
    free: u32,
    /// Bit i set when slot i is non-empty.
    bitmap: Vec<u64>,
    /// The slot being drained, in descending time order, equal times newest
    /// first (pop from the end).
    current: Vec<(u64, EventKind)>,
    /// Absolute slot number (time >> SLOT_BITS) of `current`.
    cur: u64,
    overflow: std::collections::BinaryHeap<std::cmp::Reverse<(u128, Wrapped)>>,
    /// Slot of the earliest overflow event (u64::MAX if none), so that the
    /// common case of turning the wheel does not look at the heap.
    overflow_slot: u64,
    len: usize,
    next_seq: u64,
    popped: u64,
    max_len: usize,
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    time: u64,
    kind: EventKind,
    next: u32,
}

/// EventKind ordered arbitrarily (keys are unique, so it is never compared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Wrapped(EventKind);
impl PartialOrd for Wrapped {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Wrapped {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

const SLOT_BITS: u32 = 12; // 4.096 ns: a few events per slot at 40 Gbps and load 0.6
const SLOTS: usize = 1 << 12; // a 16.8 us horizon: small enough to stay in cache
const MASK: u64 = SLOTS as u64 - 1;

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue::with_capacity(0)
    }
}

#[inline]
fn key(time: Picos, seq: u64) -> u128 {
    ((time.0 as u128) << 64) | seq as u128
}

#[inline]
fn slot_of(k: u128) -> u64 {
    ((k >> 64) as u64) >> SLOT_BITS
}

impl EventQueue {
    pub fn with_capacity(_n: usize) -> Self {
        EventQueue {
            slots: vec![NIL; SLOTS],
            nodes: Vec::new(),
            free: NIL,
            bitmap: vec![0; SLOTS / 64],
            current: Vec::new(),
            cur: 0,
            overflow: Default::default(),
            overflow_slot: u64::MAX,
            len: 0,
            next_seq: 0,
            popped: 0,
            max_len: 0,
        }
    }

    /// File an event that is not later than anything of its time already
    /// queued (scheduling order).
    #[inline(always)]
    fn file(&mut self, time: u64, seq: u64, kind: EventKind) {
        let slot = time >> SLOT_BITS;
        debug_assert!(slot >= self.cur, "event scheduled in the past");
        if slot == self.cur {
            // Into the slot being drained: keep it sorted (descending), and
            // behind (popped after) the events of the same time.
            let pos = self.current.partition_point(|e| e.0 > time);
            self.current.insert(pos, (time, kind));
        } else if slot - self.cur < SLOTS as u64 {
            let i = (slot & MASK) as usize;
            let node = Node {
                time,
                kind,
                next: self.slots[i],
            };
            let n = if self.free != NIL {
                let n = self.free;
                self.free = self.nodes[n as usize].next;
                self.nodes[n as usize] = node;
                n
            } else {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            };
            self.slots[i] = n;
            self.bitmap[i / 64] |= 1 << (i % 64);
        } else {
            self.overflow
                .push(std::cmp::Reverse((key(Picos(time), seq), Wrapped(kind))));
            self.overflow_slot = self.overflow_slot.min(slot);
        }
    }

    #[inline]
    pub fn push(&mut self, time: Picos, kind: EventKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.file(time.0, seq, kind);
        self.len += 1;
        if self.len > self.max_len {
            self.max_len = self.len;
        }
    }

    #[inline]
    pub fn pop(&mut self) -> Option<Event> {
        if self.len == 0 {
            return None;
        }
        if self.current.is_empty() {
            self.advance();
        }
        let (time, kind) = self.current.pop().expect("advance found a slot");
        self.len -= 1;
        self.popped += 1;
        Some(Event {
            time: Picos(time),
            kind,
        })
    }

    /// The event `pop` would return after `ahead` more pops, if it is
    /// already sorted (in the slot being drained); used only for prefetching.
    #[inline(always)]
    pub fn peek_sorted(&self, ahead: usize) -> Option<EventKind> {
        let n = self.current.len();
        if ahead < n {
            Some(self.current[n - 1 - ahead].1)
        } else {
            None
        }
    }

    /// Move to the next non-empty slot and make it current.
    fn advance(&mut self) {
        loop {
            // Next set bit after `cur` within the horizon.
            if let Some(slot) = self.next_occupied() {
                // Overflow events are all beyond the horizon of the previous
                // slot, so later than any wheel event.
                debug_assert!(self
                    .overflow
                    .peek()
                    .is_none_or(|std::cmp::Reverse((k, _))| slot_of(*k) > slot));
                self.cur = slot;
                let i = (slot & MASK) as usize;
                self.bitmap[i / 64] &= !(1 << (i % 64));
                let mut n = std::mem::replace(&mut self.slots[i], NIL);
                debug_assert!(self.current.is_empty());
                // Insertion-sort the (few) events of the slot into descending
                // time order as the list is walked; the list is newest first,
                // so an event goes behind those of equal time, keeping them
                // newest first.
                while n != NIL {
                    let node = self.nodes[n as usize];
                    let mut j = self.current.len();
                    self.current.push((node.time, node.kind));
                    while j > 0 && self.current[j - 1].0 < node.time {
                        self.current.swap(j - 1, j);
                        j -= 1;
                    }
                    self.nodes[n as usize].next = self.free;
                    self.free = n;
                    n = node.next;
                }
                if slot + SLOTS as u64 > self.overflow_slot {
                    self.pull_overflow();
                }
                return;
            }
            // The wheel is empty: jump to the earliest overflow event.
            let std::cmp::Reverse((k, _)) =
                *self.overflow.peek().expect("len > 0 but nothing queued");
            self.cur = slot_of(k);
            self.pull_overflow();
            if !self.current.is_empty() {
                return;
            }
        }
    }

    /// File overflow events that are now within the horizon.
    fn pull_overflow(&mut self) {
        while let Some(std::cmp::Reverse((k, _))) = self.overflow.peek() {
            if slot_of(*k) - self.cur >= SLOTS as u64 {
                break;
            }
            let std::cmp::Reverse((k, Wrapped(kind))) = self.overflow.pop().unwrap();
            self.file((k >> 64) as u64, k as u64, kind);
        }
        self.overflow_slot = self
            .overflow
            .peek()
            .map_or(u64::MAX, |std::cmp::Reverse((k, _))| slot_of(*k));
    }

    /// The absolute number of the first non-empty wheel slot after `cur`.
    fn next_occupied(&self) -> Option<u64> {
        let words = self.bitmap.len();
        let start = ((self.cur + 1) & MASK) as usize;
        let mut w = start / 64;
        // Mask off bits below `start` in its word, then scan around the ring.
        let mut bits = self.bitmap[w] & (!0u64 << (start % 64));
        for step in 0..=words {
            if bits != 0 {
                let i = (w * 64 + bits.trailing_zeros() as usize) as u64;
                // Distance from cur+1 around the ring.
                let dist = (i.wrapping_sub(start as u64)) & MASK;
                return Some(self.cur + 1 + dist);
            }
            if step == words {
                break;
            }
            w = (w + 1) % words;
            bits = self.bitmap[w];
            if w == start / 64 {
                // Back at the first word: only bits below `start` remain.
                bits &= !(!0u64 << (start % 64));
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The largest number of pending events seen.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Events processed so far.
    pub fn processed(&self) -> u64 {
        self.popped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn pops_in_time_then_schedule_order() {
        let mut q = EventQueue::default();
        let mut r = Rng::new(5);
        let mut expect = Vec::new();
        for i in 0..5000u32 {
            let t = Picos(r.below(300));
            q.push(t, EventKind::Timer(i, 0));
            expect.push((t, i));
        }
        expect.sort();
        for (t, i) in expect {
            let e = q.pop().unwrap();
            assert_eq!(e.time, t);
            assert_eq!(e.kind, EventKind::Timer(i, 0));
        }
        assert!(q.pop().is_none());
    }
}

#[cfg(test)]
mod against_a_heap {
    use super::*;
    use crate::rng::Rng;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// Interleaved pushes and pops, with many equal times, delays within a
    /// slot, across the wheel and beyond its horizon: the wheel pops exactly
    /// what a (time, scheduling order) heap pops.
    #[test]
    fn pops_like_a_time_then_sequence_heap() {
        for seed in 0..20 {
            let mut r = Rng::new(seed);
            let mut q = EventQueue::default();
            let mut reference = BinaryHeap::new();
            let mut now = 0u64;
            let mut id = 0u32;
            for _ in 0..20_000 {
                if r.below(100) < 55 || reference.is_empty() {
                    let delay = match r.below(4) {
                        0 => r.below(3),          // ties and same slot
                        1 => r.below(5_000),      // a few slots ahead
                        2 => r.below(4_000_000),  // around the horizon
                        _ => r.below(50_000_000), // far beyond it
                    };
                    // Round some times so that exact ties are common.
                    let t = if r.below(2) == 0 {
                        (now + delay) / 1000 * 1000 + 1000
                    } else {
                        now + delay
                    };
                    q.push(Picos(t), EventKind::Timer(id, 0));
                    reference.push(Reverse((t, id)));
                    id += 1;
                } else {
                    let Reverse((t, i)) = reference.pop().unwrap();
                    // A peek, when it answers, names the event popped next.
                    if let Some(k) = q.peek_sorted(0) {
                        assert_eq!(k, EventKind::Timer(i, 0), "seed {seed}");
                    }
                    let e = q.pop().unwrap();
                    assert_eq!(
                        (e.time, e.kind),
                        (Picos(t), EventKind::Timer(i, 0)),
                        "seed {seed}"
                    );
                    now = t;
                }
            }
            while let Some(Reverse((t, i))) = reference.pop() {
                let e = q.pop().unwrap();
                assert_eq!(
                    (e.time, e.kind),
                    (Picos(t), EventKind::Timer(i, 0)),
                    "seed {seed}"
                );
            }
            assert!(q.pop().is_none());
        }
    }

    /// Many events of one future time (more than a small-slice sort handles
    /// by insertion) still pop in scheduling order.
    #[test]
    fn a_crowded_slot_keeps_scheduling_order() {
        let mut q = EventQueue::default();
        let mut r = Rng::new(3);
        let mut expect = Vec::new();
        for i in 0..300u32 {
            let t = 50_000 + 100 * r.below(3);
            q.push(Picos(t), EventKind::Timer(i, 0));
            expect.push((t, i));
        }
        expect.sort();
        for (t, i) in expect {
            assert_eq!(
                q.pop().map(|e| (e.time, e.kind)),
                Some((Picos(t), EventKind::Timer(i, 0)))
            );
        }
    }
}

#[cfg(test)]
mod speed {
    use super::*;
    #[test]
    #[ignore]
    fn queue_speed() {
        let mut q = EventQueue::default();
        let mut r = crate::rng::Rng::new(1);
        let mut t = 0u64;
        for _ in 0..900 {
            q.push(Picos(r.below(1_000_000)), EventKind::Sample);
        }
        let t0 = std::time::Instant::now();
        for _ in 0..18_000_000u64 {
            let e = q.pop().unwrap();
            t = e.time.0;
            q.push(Picos(t + 200_000 + r.below(1_000_000)), EventKind::Sample);
        }
        eprintln!("{:?} per op pair, t={t}", t0.elapsed() / 18_000_000);
    }
}
