//! The pFabric switch queue (Alizadeh et al., SIGCOMM 2013).
//!
//! Every packet carries its flow's remaining bytes as `priority` (smaller is
//! more urgent). Dequeue picks the most urgent packet and then sends the
//! *earliest queued* packet of that packet's flow, which avoids reordering
//! within a flow. When the buffer is full, the least urgent queued packet is
//! dropped to make room, unless the arriving packet is itself the least urgent.
//! Buffers are tiny (tens of packets), so linear scans beat any index.

use super::Buffer;
use crate::packet::{PacketId, PacketPool};

pub struct PFabricQueue {
    /// In arrival order.
    q: Vec<PacketId>,
    buf: Buffer,
}

impl PFabricQueue {
    pub fn new(capacity: u64) -> PFabricQueue {
        PFabricQueue {
            q: Vec::new(),
            buf: Buffer::new(capacity),
        }
    }

    pub fn enqueue(&mut self, id: PacketId, pool: &mut PacketPool, dropped: &mut Vec<PacketId>) {
        let (bytes, prio) = {
            let p = pool.get(id);
            (p.wire_bytes as u64, p.priority)
        };
        while !self.buf.fits(bytes) {
            // The least urgent queued packet; among equals the latest queued.
            let mut worst: Option<(usize, u64)> = None;
            for (i, &qid) in self.q.iter().enumerate() {
                let pr = pool.get(qid).priority;
                if worst.is_none_or(|(_, w)| pr >= w) {
                    worst = Some((i, pr));
                }
            }
            match worst {
                Some((i, w)) if w > prio => {
                    let victim = self.q.remove(i);
                    self.buf.used -= pool.get(victim).wire_bytes as u64;
                    dropped.push(victim);
                }
                // The arriving packet is the least urgent (or nothing is
                // queued yet it still does not fit): drop it.
                _ => {
                    dropped.push(id);
                    return;
                }
            }
        }
        self.buf.used += bytes;
        self.q.push(id);
    }

    pub fn dequeue(&mut self, pool: &PacketPool) -> Option<PacketId> {
        if self.q.is_empty() {
            return None;
        }
        let mut best = 0;
        let mut best_prio = u64::MAX;
        for (i, &qid) in self.q.iter().enumerate() {
            let pr = pool.get(qid).priority;
            if pr < best_prio {
                best = i;
                best_prio = pr;
            }
        }
        let flow = pool.get(self.q[best]).flow;
        // The earliest queued packet of the chosen flow.
        let first = self
            .q
            .iter()
            .position(|&qid| pool.get(qid).flow == flow)
            .unwrap_or(best);
        let id = self.q.remove(first);
        self.buf.used -= pool.get(id).wire_bytes as u64;
        Some(id)
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn bytes(&self) -> u64 {
        self.buf.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{FlowId, HostId};
    use crate::packet::{Packet, PacketKind};

    fn pkt(pool: &mut PacketPool, flow: u32, prio: u64, seq: u32) -> PacketId {
        let mut p = Packet::new(FlowId(flow), HostId(0), HostId(1), PacketKind::Data, 1500);
        p.priority = prio;
        p.seq = seq;
        pool.alloc(p)
    }

    /// Dequeue always returns a packet of the most urgent flow, and the
    /// earliest queued packet of that flow.
    #[test]
    fn dequeues_in_priority_order_earliest_of_the_flow() {
        let mut pool = PacketPool::default();
        let mut q = PFabricQueue::new(1_000_000);
        let mut dropped = Vec::new();
        // Flow 1 queues seq 0 at priority 900, then seq 1 at 500 (its
        // remaining size shrank); flow 2 sits at 700; flow 3 at 100 arrives last.
        let a0 = pkt(&mut pool, 1, 900, 0);
        let b = pkt(&mut pool, 2, 700, 0);
        let a1 = pkt(&mut pool, 1, 500, 1);
        let c = pkt(&mut pool, 3, 100, 0);
        for id in [a0, b, a1, c] {
            q.enqueue(id, &mut pool, &mut dropped);
        }
        assert!(dropped.is_empty());
        assert_eq!(q.len(), 4);
        assert_eq!(q.bytes(), 6000);
        // Flow 3 is the most urgent.
        assert_eq!(q.dequeue(&pool), Some(c));
        // Flow 1's best packet (500) beats flow 2, and flow 1's *earliest*
        // packet goes first, so the flow is not reordered.
        assert_eq!(q.dequeue(&pool), Some(a0));
        assert_eq!(q.dequeue(&pool), Some(a1));
        assert_eq!(q.dequeue(&pool), Some(b));
        assert_eq!(q.dequeue(&pool), None);
        assert_eq!(q.bytes(), 0);
    }

    /// A random sequence: every dequeued packet belongs to a flow whose most
    /// urgent queued packet is the most urgent in the queue.
    #[test]
    fn dequeue_order_matches_a_reference_on_random_input() {
        let mut pool = PacketPool::default();
        let mut q = PFabricQueue::new(u64::MAX);
        let mut dropped = Vec::new();
        let mut rng = crate::rng::Rng::new(9);
        let mut model: Vec<PacketId> = Vec::new();
        for step in 0..5000u32 {
            if rng.below(3) < 2 {
                let id = pkt(&mut pool, rng.below(6) as u32, 1 + rng.below(50), step);
                q.enqueue(id, &mut pool, &mut dropped);
                model.push(id);
            } else if let Some(got) = q.dequeue(&pool) {
                let best = model.iter().map(|&m| pool.get(m).priority).min().unwrap();
                let flow = pool.get(got).flow;
                let flow_best = model
                    .iter()
                    .filter(|&&m| pool.get(m).flow == flow)
                    .map(|&m| pool.get(m).priority)
                    .min();
                assert_eq!(
                    flow_best,
                    Some(best),
                    "served a flow that is not the most urgent"
                );
                let first = *model.iter().find(|&&m| pool.get(m).flow == flow).unwrap();
                assert_eq!(got, first, "not the flow's earliest packet");
                model.retain(|&m| m != got);
            }
        }
        assert!(dropped.is_empty());
    }

    /// A full buffer drops its least urgent packet to admit a more urgent
    /// one, and drops an arriving packet that is itself the least urgent.
    #[test]
    fn full_buffer_drops_the_lowest_priority_packet() {
        let mut pool = PacketPool::default();
        let mut q = PFabricQueue::new(3 * 1500);
        let mut dropped = Vec::new();
        let p = [
            pkt(&mut pool, 1, 300, 0),
            pkt(&mut pool, 2, 800, 0),
            pkt(&mut pool, 3, 500, 0),
        ];
        for id in p {
            q.enqueue(id, &mut pool, &mut dropped);
        }
        assert!(dropped.is_empty());
        // More urgent than the worst (800): the 800 packet goes.
        let urgent = pkt(&mut pool, 4, 100, 0);
        q.enqueue(urgent, &mut pool, &mut dropped);
        assert_eq!(dropped, vec![p[1]]);
        assert_eq!(q.len(), 3);
        assert_eq!(q.bytes(), 4500);
        // Less urgent than everything queued: the arrival itself is dropped.
        dropped.clear();
        let lazy = pkt(&mut pool, 5, 900, 0);
        q.enqueue(lazy, &mut pool, &mut dropped);
        assert_eq!(dropped, vec![lazy]);
        // Equal to the worst queued (500): the arrival is (among) the lowest, dropped.
        dropped.clear();
        let tie = pkt(&mut pool, 6, 500, 0);
        q.enqueue(tie, &mut pool, &mut dropped);
        assert_eq!(dropped, vec![tie]);
        // What is left leaves in priority order.
        assert_eq!(q.dequeue(&pool), Some(urgent));
        assert_eq!(q.dequeue(&pool), Some(p[0]));
        assert_eq!(q.dequeue(&pool), Some(p[2]));
    }

    /// Among equally unimportant packets the latest queued is evicted (it has
    /// waited least), and a big arrival may evict several small ones.
    #[test]
    fn eviction_takes_the_latest_among_equals_and_as_many_as_needed() {
        let mut pool = PacketPool::default();
        let mut q = PFabricQueue::new(3000);
        let mut dropped = Vec::new();
        let small = |pool: &mut PacketPool, flow, prio| {
            let mut p = Packet::new(FlowId(flow), HostId(0), HostId(1), PacketKind::Data, 1000);
            p.priority = prio;
            pool.alloc(p)
        };
        let a = small(&mut pool, 1, 700);
        let b = small(&mut pool, 2, 700);
        let c = small(&mut pool, 3, 200);
        for id in [a, b, c] {
            q.enqueue(id, &mut pool, &mut dropped);
        }
        let big = pkt(&mut pool, 4, 100, 0); // 1500 B: needs two 1000 B slots
        q.enqueue(big, &mut pool, &mut dropped);
        assert_eq!(dropped, vec![b, a]);
        assert_eq!(q.bytes(), 2500);
    }
}
