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
        PFabricQueue { q: Vec::new(), buf: Buffer::new(capacity) }
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
                if worst.map_or(true, |(_, w)| pr >= w) {
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
        let first = self.q.iter().position(|&qid| pool.get(qid).flow == flow).unwrap_or(best);
        let id = self.q.remove(first);
        self.buf.used -= pool.get(id).wire_bytes as u64;
        Some(id)
    }

    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn bytes(&self) -> u64 {
        self.buf.used
    }
}
