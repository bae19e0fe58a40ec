//! The network: output ports (a queue and the link it drives), routing, and
//! how a packet moves from port to port.
//!
//! **Links schedule only their head packet.** Packets a port has started to
//! send are in the link's `in_flight` list in order of arrival at the far end
//! (arrival times on one link never decrease), and only the first of them has
//! an event in the global queue. That keeps the event heap as small as the
//! number of links plus timers, whatever the load.
//!
//! **FIFO ports decide departure times at enqueue.** A FIFO port serves
//! packets in arrival order without preemption, so the moment a packet is
//! admitted its transmission start is known: when the packets ahead of it are
//! done. Such a port needs no "link free" events at all; its buffer occupancy
//! at any instant is the bytes of admitted packets that have not started yet,
//! which drop-tail admission and ECN marking read at each arrival. Priority
//! ports (strict priority, pFabric, and host NICs whose transport pulls
//! packets one at a time) must choose at departure time, so they hold a real
//! queue and schedule a `PortFree` event while it is non-empty.
//!
//! Timing model (also used by [`crate::opt`], which must agree exactly):
//! * store-and-forward: a packet arrives at a switch when its last byte has
//!   crossed the link, plus the switch's delay; it can leave at once.
//! * cut-through: a packet arrives at a switch when its header has crossed the
//!   link (plus the switch delay) and may start leaving then, but never so
//!   early that its last byte would leave before it has arrived: transmission
//!   starts at max(arrival, last-byte arrival - serialization on the out link).
//! * a host receives a packet when its last byte has arrived.
//! * a port's buffer holds the packets waiting to start; the one being
//!   serialized has left it.

use crate::ids::{HostId, NodeId, PortId};
use crate::packet::{PacketId, PacketKind, PacketPool};
use crate::queue::{Fifo, PFabricQueue, Queue, StrictPriority};
use crate::ring::SeqRing;
use crate::rng::splitmix64;
use crate::scenario::{QueueKind, Routing, Switching, TopologyConfig};
use crate::topology::routing::RoutingTable;
use crate::topology::{Hop, Topology};
use crate::units::{BitsPerSec, Picos};

/// A packet on (or waiting for) a link.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flight {
    pub pkt: PacketId,
    /// When its transmission starts.
    pub start: Picos,
    /// When it reaches the far end (see the timing model).
    pub arrive: Picos,
    pub wire: u32,
}

/// An output port and the link it drives.
///
/// The layout is fixed (`repr(C)`) so that what forwarding a packet through a
/// FIFO port reads and writes sits in the first two cache lines; statistics,
/// configuration used off the fast path and the non-FIFO queue come after.
#[repr(C, align(64))]
pub struct Port {
    // -- cache line 0 --
    /// Started or committed packets not yet at the far end, in arrival order.
    pub in_flight: SeqRing<Flight>,
    /// When the link finishes serializing everything it has started or
    /// (FIFO) committed to.
    pub busy_until: Picos,
    waiting_bytes: u64,
    /// FIFO accounting: `in_flight` entries from this sequence number on
    /// have not started yet.
    first_waiting: u64,
    pub peer: NodeId,
    /// Departure times are fixed at enqueue (FIFO disciplines).
    pub fifo: bool,
    /// The port is a host's NIC.
    pub at_host: bool,
    /// A `PortFree` event is scheduled (non-FIFO ports).
    pub wake_pending: bool,
    // -- cache line 1 --
    /// FIFO ports: integral of waiting bytes over time (byte-picoseconds)
    /// up to `area_until`, for the time-average occupancy.
    area: u128,
    area_until: Picos,
    /// Exact picoseconds per byte when whole (the common case), else 0.
    ps_per_byte: u64,
    capacity: u64,
    pub tx_bytes: u64,
    waiting_pkts: u32,
    /// ECN marking threshold in packets (`NO_ECN` if the port does not mark).
    ecn_k: u32,
    pub max_queue_bytes: u64,
    // -- the rest --
    pub node: NodeId,
    pub hop: Hop,
    pub rate: BitsPerSec,
    /// Serialization time of a header on this link (cut-through).
    hdr_time: Picos,
    pub drops: u64,
    /// The waiting packets of a non-FIFO port.
    pub queue: Queue,
}

const NO_ECN: u32 = u32::MAX;

impl Port {
    /// Time-average bytes waiting in a FIFO port's buffer from 0 to `end`.
    pub fn mean_queue_bytes(&mut self, end: Picos) -> f64 {
        if !self.fifo || end == Picos::ZERO {
            return f64::NAN;
        }
        self.settle(end);
        let area =
            self.area + self.waiting_bytes as u128 * end.saturating_sub(self.area_until).0 as u128;
        area as f64 / end.0 as f64
    }

    /// Packets this port has put on its link.
    pub fn tx_packets(&self) -> u64 {
        self.in_flight.tail_seq()
    }

    /// Nothing being serialized, nothing waiting and no wake-up scheduled.
    #[inline]
    pub fn idle(&self, now: Picos) -> bool {
        !self.wake_pending && self.busy_until <= now && self.queue.is_empty()
    }

    /// Mark FIFO packets whose transmission has started by `now` as gone from
    /// the buffer.
    #[inline(always)]
    fn settle(&mut self, now: Picos) {
        while self.first_waiting < self.in_flight.tail_seq() {
            let f = self.in_flight.at(self.first_waiting);
            if f.start > now {
                break;
            }
            let (start, wire) = (f.start, f.wire);
            self.leave_buffer(start, wire);
        }
    }

    /// Add the occupancy since the last change to the time integral.
    #[inline]
    fn accumulate_area(&mut self, t: Picos) {
        let t = t.max(self.area_until);
        self.area += self.waiting_bytes as u128 * (t - self.area_until).0 as u128;
        self.area_until = t;
    }

    /// A FIFO packet starts at `start`: it leaves the buffer.
    #[inline]
    fn leave_buffer(&mut self, start: Picos, wire: u32) {
        self.accumulate_area(start);
        self.waiting_bytes -= wire as u64;
        self.waiting_pkts -= 1;
        self.first_waiting += 1;
    }

    /// Bytes waiting in this port's buffer at `now`.
    pub fn queued_bytes(&mut self, now: Picos) -> u64 {
        if self.fifo {
            self.settle(now);
            self.waiting_bytes
        } else {
            self.queue.bytes()
        }
    }

    #[inline(always)]
    pub fn pop_arrival(&mut self) -> Option<Flight> {
        let was_waiting = self.first_waiting == self.in_flight.head_seq();
        let f = self.in_flight.pop_front()?;
        if self.fifo && was_waiting {
            // It started long ago but no admission has settled the buffer
            // since: it leaves the count now (as of its start).
            self.leave_buffer(f.start, f.wire);
        }
        Some(f)
    }
}

/// Timing constants of the network.
#[derive(Clone, Debug)]
pub struct NetParams {
    pub hosts: u32,
    pub mtu: u32,
    pub header: u32,
    pub host_rate: BitsPerSec,
    pub fabric_rate: BitsPerSec,
    pub propagation: Picos,
    pub switch_delay: Picos,
    pub cut_through: bool,
    pub spray: bool,
}

impl NetParams {
    pub fn payload(&self) -> u32 {
        self.mtu - self.header
    }
    /// Number of packets a flow of `size` payload bytes needs (at least one).
    pub fn packets_for(&self, size: u64) -> u32 {
        size.div_ceil(self.payload() as u64).max(1) as u32
    }
    /// Wire bytes of data packet `seq` of a flow of `size` payload bytes.
    pub fn data_wire_bytes(&self, size: u64, seq: u32) -> u32 {
        let pl = self.payload() as u64;
        let start = seq as u64 * pl;
        let len = size.saturating_sub(start).min(pl).max(1);
        len as u32 + self.header
    }
}

/// How each port's queue is built.
#[derive(Clone, Debug)]
pub struct QueueSpec {
    pub kind: QueueKind,
    pub switch_buffer: u64,
    pub host_buffer: u64,
    /// Explicit ECN threshold in packets, or None to scale 65 packets per 10 Gbps.
    pub ecn_k: Option<u32>,
    pub levels: u32,
    /// The transport pulls packets into idle host NICs (so NICs cannot be FIFO
    /// fast-path ports).
    pub nic_pulls: bool,
}

impl QueueSpec {
    /// The marking threshold of a port: as configured, or by default 65
    /// packets per 10 Gbps of the port's speed (the DCTCP paper's K at 10 Gbps)
    /// but at most half the port's buffer in MTU packets, so that marking can
    /// happen before the buffer overflows.
    fn ecn_threshold(&self, rate: BitsPerSec, capacity: u64, mtu: u64) -> Option<u32> {
        match self.kind {
            QueueKind::Ecn => Some(self.ecn_k.unwrap_or_else(|| {
                let scaled = (65u128 * rate.0 as u128).div_ceil(10_000_000_000) as u64;
                let half_buffer = (capacity / mtu / 2).max(1);
                scaled.min(half_buffer) as u32
            })),
            _ => None,
        }
    }

    fn build(&self, rate: BitsPerSec, at_host: bool, mtu: u64) -> (Queue, bool, u64, Option<u32>) {
        let cap = if at_host {
            self.host_buffer
        } else {
            self.switch_buffer
        };
        let k = self.ecn_threshold(rate, cap, mtu);
        let fifo_kind = matches!(
            self.kind,
            QueueKind::Auto | QueueKind::DropTail | QueueKind::Ecn
        );
        let fast = fifo_kind && !(at_host && self.nic_pulls);
        let q = match self.kind {
            QueueKind::Auto | QueueKind::DropTail | QueueKind::Ecn => {
                Queue::Fifo(Fifo::new(cap, k))
            }
            QueueKind::Priority => Queue::Priority(StrictPriority::new(self.levels, cap, None)),
            QueueKind::Pfabric => Queue::PFabric(PFabricQueue::new(cap)),
        };
        (q, fast, cap, k)
    }
}

pub struct Network {
    pub params: NetParams,
    pub ports: Vec<Port>,
    /// The NIC port of each host.
    pub host_port: Vec<PortId>,
    pub routes: RoutingTable,
    pub topology: Topology,
    /// Packets the last operation dropped (reused buffer).
    pub dropped: Vec<PacketId>,
}

impl Network {
    pub fn new(cfg: &TopologyConfig, queues: &QueueSpec) -> Network {
        let topology = Topology::build(cfg);
        let nodes = topology.nodes();
        let mut ports = Vec::with_capacity(topology.links.len() * 2);
        let mut adjacency: Vec<Vec<(u32, u32)>> = vec![Vec::new(); nodes as usize];
        let mut host_port = vec![PortId(u32::MAX); topology.hosts as usize];
        let hdr = cfg.header as u64;
        for l in &topology.links {
            for (from, to, hop) in [(l.a, l.b, l.hop_ab), (l.b, l.a, l.hop_ba)] {
                let id = ports.len() as u32;
                let at_host = from < topology.hosts;
                let (queue, fifo, capacity, ecn_k) = queues.build(l.rate, at_host, cfg.mtu as u64);
                ports.push(Port {
                    in_flight: SeqRing::default(),
                    busy_until: Picos::ZERO,
                    waiting_bytes: 0,
                    first_waiting: 0,
                    area: 0,
                    area_until: Picos::ZERO,
                    ps_per_byte: l.rate.ps_per_byte().unwrap_or(0),
                    capacity,
                    tx_bytes: 0,
                    peer: NodeId(to),
                    waiting_pkts: 0,
                    ecn_k: ecn_k.unwrap_or(NO_ECN),
                    fifo,
                    at_host,
                    wake_pending: false,
                    node: NodeId(from),
                    hop,
                    rate: l.rate,
                    hdr_time: l.rate.tx_time(hdr),
                    drops: 0,
                    max_queue_bytes: 0,
                    queue,
                });
                adjacency[from as usize].push((id, to));
                if at_host {
                    host_port[from as usize] = PortId(id);
                }
            }
        }
        let routes = RoutingTable::build(topology.hosts, nodes, &adjacency);
        let params = NetParams {
            hosts: topology.hosts,
            mtu: cfg.mtu,
            header: cfg.header,
            host_rate: cfg.host_rate.0,
            fabric_rate: cfg.fabric_rate(),
            propagation: cfg.propagation.0,
            switch_delay: cfg.switch_delay.0,
            cut_through: cfg.switching == Switching::CutThrough,
            spray: cfg.routing == Routing::Spray,
        };
        Network {
            params,
            ports,
            host_port,
            routes,
            topology,
            dropped: Vec::new(),
        }
    }

    /// Start fetching the two hot cache lines of a port (see
    /// [`crate::prefetch`] and the [`Port`] layout).
    #[inline(always)]
    pub fn prefetch_port(&self, port: PortId) {
        if let Some(p) = self.ports.get(port.idx()) {
            crate::prefetch::line(p);
            crate::prefetch::line(&p.area);
        }
    }

    #[inline]
    pub fn is_host(&self, node: NodeId) -> bool {
        node.0 < self.params.hosts
    }

    #[inline]
    pub fn nic(&self, host: HostId) -> PortId {
        self.host_port[host.idx()]
    }

    /// The output port a switch uses for a packet. `spray_draw` is a random
    /// word used only under packet spraying.
    #[inline(always)]
    pub fn route(
        &self,
        switch: NodeId,
        pool: &PacketPool,
        pkt: PacketId,
        spray_draw: u64,
    ) -> PortId {
        let p = pool.get(pkt);
        let choices = self.routes.next_ports(switch.0, p.dst.0);
        let n = choices.len();
        if n == 1 {
            return PortId(choices[0]);
        }
        let pick = if self.params.spray {
            spray_draw
        } else {
            // Per-flow ECMP: a hash of the flow and the switch, so flows spread
            // independently at each tier.
            splitmix64(((p.flow.0 as u64) << 32) ^ switch.0 as u64 ^ ((p.src.0 as u64) << 52))
        };
        PortId(choices[((pick as u128 * n as u128) >> 64) as usize])
    }
}

impl Port {
    /// Commit `pkt` to the link: it starts when the link is free (and, under
    /// cut-through, when its last byte can follow). Returns whether it is now
    /// the link's head packet (so its arrival must be scheduled), and the
    /// flight.
    #[inline(always)]
    pub fn commit(
        &mut self,
        now: Picos,
        pkt: PacketId,
        pool: &mut PacketPool,
        np: &NetParams,
    ) -> (bool, Flight) {
        let p = pool.get_mut(pkt);
        let wire = p.wire_bytes;
        let ser = if self.ps_per_byte != 0 {
            Picos(wire as u64 * self.ps_per_byte)
        } else {
            self.rate.tx_time(wire as u64)
        };
        let mut start = now.max(self.busy_until);
        if np.cut_through {
            start = start.max(p.last_byte_at.saturating_sub(ser));
        }
        let end = start + ser;
        self.busy_until = end;
        self.tx_bytes += wire as u64;
        let arrive = if self.peer.0 < np.hosts {
            p.last_byte_at = end + np.propagation;
            end + np.propagation
        } else {
            p.last_byte_at = end + np.propagation + np.switch_delay;
            if np.cut_through {
                start + self.hdr_time + np.propagation + np.switch_delay
            } else {
                p.last_byte_at
            }
        };
        if self.at_host {
            p.sent_at = start;
        }
        let flight = Flight {
            pkt,
            start,
            arrive,
            wire,
        };
        let head = self.in_flight.is_empty();
        if self.fifo && start > now {
            self.accumulate_area(now);
            self.waiting_bytes += wire as u64;
            self.waiting_pkts += 1;
            if self.waiting_bytes > self.max_queue_bytes {
                self.max_queue_bytes = self.waiting_bytes;
            }
        } else if self.fifo && self.first_waiting == self.in_flight.tail_seq() {
            // Started at once with nothing waiting: it is not in the buffer.
            self.first_waiting += 1;
        }
        self.in_flight.push_back(flight);
        (head, flight)
    }

    /// FIFO admission at `now`: drop-tail on the bytes waiting, and ECN
    /// marking of data packets that find `ecn_k` or more packets waiting.
    /// Returns false if the packet must be dropped.
    #[inline(always)]
    pub fn fifo_admit(&mut self, now: Picos, pkt: PacketId, pool: &mut PacketPool) -> bool {
        self.settle(now);
        if self.busy_until <= now {
            return true; // starts at once; takes no buffer
        }
        let p = pool.get_mut(pkt);
        if self.waiting_bytes + p.wire_bytes as u64 > self.capacity {
            return false;
        }
        if self.waiting_pkts >= self.ecn_k && p.kind == PacketKind::Data {
            p.ce = true;
        }
        true
    }
}

#[cfg(test)]
mod layout {
    /// What forwarding through a FIFO port touches stays in two cache lines.
    #[test]
    fn hot_fields_in_the_first_two_cache_lines() {
        use std::mem::offset_of;
        assert!(offset_of!(super::Port, wake_pending) < 64);
        assert!(offset_of!(super::Port, max_queue_bytes) + 8 <= 128);
        assert_eq!(std::mem::align_of::<super::Port>(), 64);
    }
}
