//! Packets and the pool they live in.
//!
//! Packets are plain values in one growable vector and are addressed by a
//! 32-bit [`PacketId`]. Freed slots go on a free list and are reused, so after
//! warm-up the hot path never allocates.

use crate::ids::{FlowId, HostId};
use crate::units::Picos;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketId(pub u32);

/// What a packet is. Transports give the generic kinds their meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketKind {
    Data,
    Ack,
    /// A control packet (RTS, token, request, allocation...). The transport's
    /// own sub-type goes in [`Packet::aux`].
    Control,
}

/// One cache line: forwarding touches one line per packet.
#[derive(Clone, Copy, Debug)]
#[repr(align(64))]
pub struct Packet {
    pub flow: FlowId,
    pub src: HostId,
    pub dst: HostId,
    pub kind: PacketKind,
    /// Bytes on the wire, headers included.
    pub wire_bytes: u32,
    /// Data: the packet's sequence number within its flow (in packets).
    /// Ack: the cumulative acknowledgement (next expected packet).
    pub seq: u32,
    /// Transport-defined: the acked data packet's sequence, a control sub-type, ...
    pub aux: u32,
    /// Scheduling priority for priority queues: a smaller value is served first
    /// (pFabric: remaining bytes of the flow; strict priority: the level).
    pub priority: u64,
    /// Congestion Experienced (set by an ECN-marking queue).
    pub ce: bool,
    /// ECN echo (set by a receiver on acks).
    pub ece: bool,
    /// A retransmitted copy (for accounting).
    pub retransmit: bool,
    /// Time the packet left its source NIC queue the first time (RTT samples).
    pub sent_at: Picos,
    /// Timestamp echo: an ack carries the `sent_at` of the packet it acks.
    pub ts_echo: Picos,
    /// Cut-through bookkeeping: when the packet's last byte reaches the node it
    /// is heading to (set by the link that carries it).
    pub last_byte_at: Picos,
}

impl Packet {
    pub fn new(
        flow: FlowId,
        src: HostId,
        dst: HostId,
        kind: PacketKind,
        wire_bytes: u32,
    ) -> Packet {
        Packet {
            flow,
            src,
            dst,
            kind,
            wire_bytes,
            seq: 0,
            aux: 0,
            priority: 0,
            ce: false,
            ece: false,
            retransmit: false,
            sent_at: Picos::ZERO,
            ts_echo: Picos::ZERO,
            last_byte_at: Picos::ZERO,
        }
    }
}

#[derive(Default)]
pub struct PacketPool {
    slots: Vec<Packet>,
    free: Vec<u32>,
    live: usize,
    peak: usize,
}

impl PacketPool {
    pub fn alloc(&mut self, p: Packet) -> PacketId {
        self.live += 1;
        if self.live > self.peak {
            self.peak = self.live;
        }
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = p;
                PacketId(i)
            }
            None => {
                self.slots.push(p);
                PacketId((self.slots.len() - 1) as u32)
            }
        }
    }

    pub fn free(&mut self, id: PacketId) {
        self.live -= 1;
        self.free.push(id.0);
    }

    #[inline]
    pub fn get(&self, id: PacketId) -> &Packet {
        &self.slots[id.0 as usize]
    }

    /// Start fetching a packet's cache line (see [`crate::prefetch`]).
    #[inline(always)]
    pub fn prefetch(&self, id: PacketId) {
        if let Some(p) = self.slots.get(id.0 as usize) {
            crate::prefetch::line(p);
        }
    }

    #[inline]
    pub fn get_mut(&mut self, id: PacketId) -> &mut Packet {
        &mut self.slots[id.0 as usize]
    }

    pub fn live(&self) -> usize {
        self.live
    }

    pub fn peak(&self) -> usize {
        self.peak
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_packet_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<super::Packet>(), 64);
    }
}
