//! Strict priority over N levels sharing one drop-tail buffer: level 0 is
//! always served first, FIFO within a level. A packet's level is its
//! `priority` field, clamped to the last level.

use std::collections::VecDeque;

use super::Buffer;
use crate::packet::{PacketId, PacketKind, PacketPool};

pub struct StrictPriority {
    levels: Vec<VecDeque<PacketId>>,
    buf: Buffer,
    len: usize,
    ecn_k: Option<u32>,
}

impl StrictPriority {
    pub fn new(levels: u32, capacity: u64, ecn_k: Option<u32>) -> StrictPriority {
        StrictPriority {
            levels: (0..levels).map(|_| VecDeque::new()).collect(),
            buf: Buffer::new(capacity),
            len: 0,
            ecn_k,
        }
    }

    pub fn enqueue(&mut self, id: PacketId, pool: &mut PacketPool, dropped: &mut Vec<PacketId>) {
        let p = pool.get_mut(id);
        let b = p.wire_bytes as u64;
        if !self.buf.fits(b) {
            dropped.push(id);
            return;
        }
        if let Some(k) = self.ecn_k {
            if p.kind == PacketKind::Data && self.len as u32 >= k {
                p.ce = true;
            }
        }
        let level = (p.priority as usize).min(self.levels.len() - 1);
        self.buf.used += b;
        self.len += 1;
        self.levels[level].push_back(id);
    }

    pub fn dequeue(&mut self, pool: &PacketPool) -> Option<PacketId> {
        for q in self.levels.iter_mut() {
            if let Some(id) = q.pop_front() {
                self.buf.used -= pool.get(id).wire_bytes as u64;
                self.len -= 1;
                return Some(id);
            }
        }
        None
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn bytes(&self) -> u64 {
        self.buf.used
    }
}
