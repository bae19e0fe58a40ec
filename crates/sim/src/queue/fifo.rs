//! Drop-tail FIFO, optionally marking ECN (Congestion Experienced) on data
//! packets that arrive to find `ecn_k` or more packets queued, as DCTCP needs.

use std::collections::VecDeque;

use super::Buffer;
use crate::packet::{PacketId, PacketKind, PacketPool};

pub struct Fifo {
    q: VecDeque<PacketId>,
    buf: Buffer,
    ecn_k: Option<u32>,
}

impl Fifo {
    pub fn new(capacity: u64, ecn_k: Option<u32>) -> Fifo {
        Fifo {
            q: VecDeque::new(),
            buf: Buffer::new(capacity),
            ecn_k,
        }
    }

    #[inline]
    pub fn enqueue(&mut self, id: PacketId, pool: &mut PacketPool, dropped: &mut Vec<PacketId>) {
        let p = pool.get_mut(id);
        let b = p.wire_bytes as u64;
        if !self.buf.fits(b) {
            dropped.push(id);
            return;
        }
        if let Some(k) = self.ecn_k {
            if p.kind == PacketKind::Data && self.q.len() as u32 >= k {
                p.ce = true;
            }
        }
        self.buf.used += b;
        self.q.push_back(id);
    }

    #[inline]
    pub fn dequeue(&mut self, pool: &PacketPool) -> Option<PacketId> {
        let id = self.q.pop_front()?;
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
