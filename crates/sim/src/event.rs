//! Events and the event queue.
//!
//! An event is a small plain value ordered by (time, sequence number). The
//! sequence number is the order of scheduling, which makes ties deterministic:
//! two events at the same picosecond run in the order they were scheduled.
//! The queue is a 4-ary min-heap over an inline vector (fewer cache misses than
//! a binary heap for the sizes a datacenter run has).

use crate::ids::{NodeId, PortId};
use crate::packet::PacketId;
use crate::units::Picos;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A port finished serializing its head packet and may start the next one.
    PortFree(PortId),
    /// A packet reaches a node (its header for cut-through switches, its last
    /// byte for store-and-forward switches and for hosts).
    Arrive(PacketId, NodeId),
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
    seq: u64,
    pub kind: EventKind,
}

impl Event {
    #[inline]
    fn key(&self) -> (u64, u64) {
        (self.time.0, self.seq)
    }
}

#[derive(Default)]
pub struct EventQueue {
    heap: Vec<Event>,
    next_seq: u64,
    popped: u64,
}

const ARITY: usize = 4;

impl EventQueue {
    pub fn with_capacity(n: usize) -> Self {
        EventQueue { heap: Vec::with_capacity(n), next_seq: 0, popped: 0 }
    }

    #[inline]
    pub fn push(&mut self, time: Picos, kind: EventKind) {
        let ev = Event { time, seq: self.next_seq, kind };
        self.next_seq += 1;
        self.heap.push(ev);
        // sift up
        let mut i = self.heap.len() - 1;
        let key = ev.key();
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.heap[parent].key() <= key {
                break;
            }
            self.heap[i] = self.heap[parent];
            i = parent;
        }
        self.heap[i] = ev;
    }

    #[inline]
    pub fn pop(&mut self) -> Option<Event> {
        let n = self.heap.len();
        if n == 0 {
            return None;
        }
        self.popped += 1;
        let top = self.heap[0];
        let last = self.heap.pop().unwrap();
        let n = n - 1;
        if n > 0 {
            // sift the last element down from the root
            let key = last.key();
            let mut i = 0;
            loop {
                let first = i * ARITY + 1;
                if first >= n {
                    break;
                }
                let end = (first + ARITY).min(n);
                let mut best = first;
                let mut best_key = self.heap[first].key();
                for c in first + 1..end {
                    let k = self.heap[c].key();
                    if k < best_key {
                        best = c;
                        best_key = k;
                    }
                }
                if best_key >= key {
                    break;
                }
                self.heap[i] = self.heap[best];
                i = best;
            }
            self.heap[i] = last;
        }
        Some(top)
    }

    pub fn peek_time(&self) -> Option<Picos> {
        self.heap.first().map(|e| e.time)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
