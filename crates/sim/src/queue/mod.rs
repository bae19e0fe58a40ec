//! Output-port queues.
//!
//! A queue holds packet ids and accounts its buffer in bytes (the packet being
//! serialized has left the queue). `enqueue` either admits the packet or
//! returns the packet that must be dropped, which may be a different one
//! (pFabric evicts its lowest-priority packet). The disciplines are an enum so
//! the port's hot path dispatches statically.

mod fifo;
mod pfabric;
mod priority;

pub use fifo::Fifo;
pub use pfabric::PFabricQueue;
pub use priority::StrictPriority;

use crate::packet::{PacketId, PacketPool};

pub enum Queue {
    Fifo(Fifo),
    Priority(StrictPriority),
    PFabric(PFabricQueue),
}

impl Queue {
    #[inline]
    pub fn enqueue(&mut self, id: PacketId, pool: &mut PacketPool, dropped: &mut Vec<PacketId>) {
        match self {
            Queue::Fifo(q) => q.enqueue(id, pool, dropped),
            Queue::Priority(q) => q.enqueue(id, pool, dropped),
            Queue::PFabric(q) => q.enqueue(id, pool, dropped),
        }
    }

    #[inline]
    pub fn dequeue(&mut self, pool: &PacketPool) -> Option<PacketId> {
        match self {
            Queue::Fifo(q) => q.dequeue(pool),
            Queue::Priority(q) => q.dequeue(pool),
            Queue::PFabric(q) => q.dequeue(pool),
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        match self {
            Queue::Fifo(q) => q.len(),
            Queue::Priority(q) => q.len(),
            Queue::PFabric(q) => q.len(),
        }
    }

    pub fn bytes(&self) -> u64 {
        match self {
            Queue::Fifo(q) => q.bytes(),
            Queue::Priority(q) => q.bytes(),
            Queue::PFabric(q) => q.bytes(),
        }
    }
}

/// Byte accounting shared by every discipline: a buffer of `capacity` bytes.
#[derive(Clone, Copy, Debug)]
pub struct Buffer {
    pub capacity: u64,
    pub used: u64,
}

impl Buffer {
    pub fn new(capacity: u64) -> Buffer {
        Buffer { capacity, used: 0 }
    }
    #[inline]
    pub fn fits(&self, bytes: u64) -> bool {
        self.used + bytes <= self.capacity
    }
}
