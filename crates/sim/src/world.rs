//! The world a transport acts on: the clock, the event queue, the packet
//! pool, the network and the flows. Transports see it through the methods
//! here; the engine owns the loop that drives it.

use crate::event::{EventKind, EventQueue};
use crate::flow::{FlowOutcome, FlowSpec};
use crate::ids::{FlowId, HostId, PortId};
use crate::metrics::Metrics;
use crate::network::{NetParams, Network};
use crate::packet::{Packet, PacketId, PacketKind, PacketPool};
use crate::rng::Rng;
use crate::units::Picos;

pub struct World {
    pub now: Picos,
    pub events: EventQueue,
    pub packets: PacketPool,
    pub net: Network,
    pub flows: Vec<FlowSpec>,
    pub outcomes: Vec<FlowOutcome>,
    pub metrics: Metrics,
    /// Random draws made during the run (packet spraying, transport choices).
    pub rng: Rng,
    /// Flows that have arrived so far (flows arrive in index order).
    pub arrived: u32,
    pub completed: u32,
    /// Fault injection: packets for which this returns true are lost as they
    /// leave their source host (used by tests of loss recovery).
    pub loss: Option<LossFn>,
}

/// Decides, at hand-off time, whether a packet is lost (fault injection).
pub type LossFn = Box<dyn FnMut(&Packet, Picos) -> bool + Send>;

impl World {
    #[inline]
    pub fn params(&self) -> &NetParams {
        &self.net.params
    }

    #[inline]
    pub fn flow(&self, f: FlowId) -> &FlowSpec {
        &self.flows[f.idx()]
    }

    /// Schedule a transport timer; the two words come back in `on_timer`.
    #[inline]
    pub fn timer(&mut self, at: Picos, a: u32, b: u32) {
        debug_assert!(at >= self.now);
        self.events.push(at, EventKind::Timer(a, b));
    }

    /// Allocate a packet.
    #[inline]
    pub fn packet(&mut self, p: Packet) -> PacketId {
        self.packets.alloc(p)
    }

    /// A new data packet `seq` of flow `f`, sized from the flow's length.
    pub fn data_packet(&mut self, f: FlowId, seq: u32) -> PacketId {
        let spec = &self.flows[f.idx()];
        let wire = self.net.params.data_wire_bytes(spec.size, seq);
        let mut p = Packet::new(f, spec.src, spec.dst, PacketKind::Data, wire);
        p.seq = seq;
        self.packets.alloc(p)
    }

    /// A header-only packet from `from` to `to` about flow `f`.
    pub fn control_packet(
        &mut self,
        f: FlowId,
        from: HostId,
        to: HostId,
        kind: PacketKind,
    ) -> PacketId {
        let hdr = self.net.params.header;
        self.packets.alloc(Packet::new(f, from, to, kind, hdr))
    }

    /// Send a header-only packet at the top priority level, with the
    /// transport's sub-type in `aux` and a sequence number in `seq`.
    pub fn send_control(
        &mut self,
        f: FlowId,
        from: HostId,
        to: HostId,
        kind: PacketKind,
        aux: u32,
        seq: u32,
    ) {
        let pkt = self.control_packet(f, from, to, kind);
        let p = self.packets.get_mut(pkt);
        p.aux = aux;
        p.seq = seq;
        p.priority = 0;
        self.send(pkt);
    }

    /// A host's NIC is serializing nothing and has nothing queued.
    #[inline]
    pub fn nic_idle(&self, host: HostId) -> bool {
        let port = &self.net.ports[self.net.nic(host).idx()];
        port.idle(self.now) && port.queue.is_empty()
    }

    /// Hand a packet to its source host's NIC (the packet's `src`).
    #[inline]
    pub fn send(&mut self, pkt: PacketId) {
        let p = self.packets.get(pkt);
        if p.kind == PacketKind::Data && !p.retransmit {
            self.metrics.injected_bytes += (p.wire_bytes - self.net.params.header) as u64;
        }
        let port = self.net.nic(p.src);
        if let Some(loss) = self.loss.as_mut() {
            if loss(p, self.now) {
                self.metrics.injected_losses += 1;
                if p.kind == PacketKind::Data {
                    self.outcomes[p.flow.idx()].drops += 1;
                }
                self.packets.free(pkt);
                return;
            }
        }
        self.enqueue(port, pkt);
    }

    /// Offer a packet to an output port: commit it to the link, queue it, or
    /// drop it.
    #[inline(always)]
    pub fn enqueue(&mut self, port: PortId, pkt: PacketId) {
        let now = self.now;
        let net = &mut self.net;
        let pt = &mut net.ports[port.idx()];
        if pt.fifo {
            if !pt.fifo_admit(now, pkt, &mut self.packets) {
                self.drop_one(port, pkt);
                return;
            }
            let (head, f) = pt.commit(now, pkt, &mut self.packets, &net.params);
            if head {
                self.events.push(f.arrive, EventKind::LinkArrive(port, pkt));
            }
            return;
        }
        if pt.idle(now) {
            self.transmit(port, pkt);
            return;
        }
        pt.queue.enqueue(pkt, &mut self.packets, &mut net.dropped);
        let b = pt.queue.bytes();
        if b > pt.max_queue_bytes {
            pt.max_queue_bytes = b;
        }
        if !pt.wake_pending && !pt.queue.is_empty() {
            pt.wake_pending = true;
            let at = pt.busy_until.max(now);
            self.events.push(at, EventKind::PortFree(port));
        }
        while let Some(d) = self.net.dropped.pop() {
            self.drop_one(port, d);
        }
    }

    /// Start sending `pkt` on a non-FIFO `port` that is free.
    #[inline]
    pub fn transmit(&mut self, port: PortId, pkt: PacketId) {
        let now = self.now;
        let net = &mut self.net;
        let pt = &mut net.ports[port.idx()];
        let (head, f) = pt.commit(now, pkt, &mut self.packets, &net.params);
        if head {
            self.events.push(f.arrive, EventKind::LinkArrive(port, pkt));
        }
        // Keep serving the queue; a host NIC also wakes to pull from its transport.
        if !pt.queue.is_empty() || pt.at_host {
            pt.wake_pending = true;
            let at = pt.busy_until;
            self.events.push(at, EventKind::PortFree(port));
        }
    }

    fn drop_one(&mut self, port: PortId, d: PacketId) {
        let pt = &mut self.net.ports[port.idx()];
        pt.drops += 1;
        let hop = pt.hop;
        self.metrics.note_drop(hop);
        let p = self.packets.get(d);
        if p.kind == PacketKind::Data {
            self.outcomes[p.flow.idx()].drops += 1;
        }
        self.packets.free(d);
    }

    /// Record that a flow's receiver has all of its data.
    pub fn complete(&mut self, f: FlowId) {
        let o = &mut self.outcomes[f.idx()];
        if o.finish.is_none() {
            o.finish = Some(self.now);
            self.completed += 1;
        }
    }

    pub fn is_complete(&self, f: FlowId) -> bool {
        self.outcomes[f.idx()].finish.is_some()
    }

    /// Count one retransmitted data packet of flow `f`.
    #[inline]
    pub fn note_retransmit(&mut self, f: FlowId) {
        self.outcomes[f.idx()].retransmits += 1;
    }
}
