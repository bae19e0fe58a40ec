//! The network: output ports (a queue and the link it drives), routing, and
//! how a packet moves from port to port.
//!
//! A port schedules only its head packet. When it starts serializing a packet
//! it schedules the packet's arrival at the next node and, only if more
//! packets wait (or it is a host NIC that pulls from its transport), a
//! `PortFree` event for when the link is free again. Switching a packet is a
//! function call at its arrival: route, enqueue, maybe start transmitting.
//!
//! Timing model (also used by [`crate::opt`], which must agree exactly):
//! * store-and-forward: a packet arrives at a switch when its last byte has
//!   crossed the link, plus the switch's delay; it can leave at once.
//! * cut-through: a packet arrives at a switch when its header has crossed the
//!   link (plus the switch delay) and may start leaving then, but never so
//!   early that its last byte would leave before it has arrived: transmission
//!   starts at max(arrival, last-byte arrival - serialization on the out link).
//! * a host receives a packet when its last byte has arrived.

use crate::ids::{HostId, NodeId, PortId};
use crate::packet::{PacketId, PacketPool};
use crate::queue::{Fifo, PFabricQueue, Queue, StrictPriority};
use crate::rng::splitmix64;
use crate::scenario::{QueueKind, Routing, Switching, TopologyConfig};
use crate::topology::routing::RoutingTable;
use crate::topology::{Hop, Topology};
use crate::units::{BitsPerSec, Picos};

pub struct Port {
    pub node: NodeId,
    pub peer: NodeId,
    pub rate: BitsPerSec,
    pub hop: Hop,
    pub queue: Queue,
    /// When the link finishes serializing what it has started.
    pub busy_until: Picos,
    /// A `PortFree` event is scheduled.
    pub wake_pending: bool,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub drops: u64,
    /// Serialization time of a header on this link (cut-through).
    hdr_time: Picos,
}

impl Port {
    /// Idle: nothing being serialized and no wake-up scheduled.
    #[inline]
    pub fn idle(&self, now: Picos) -> bool {
        !self.wake_pending && self.busy_until <= now
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
}

impl QueueSpec {
    fn build(&self, rate: BitsPerSec, at_host: bool) -> Queue {
        let cap = if at_host { self.host_buffer } else { self.switch_buffer };
        let k = || {
            Some(self.ecn_k.unwrap_or_else(|| ((65u128 * rate.0 as u128).div_ceil(10_000_000_000)) as u32))
        };
        match self.kind {
            QueueKind::Auto | QueueKind::DropTail => Queue::Fifo(Fifo::new(cap, None)),
            QueueKind::Ecn => Queue::Fifo(Fifo::new(cap, k())),
            QueueKind::Priority => Queue::Priority(StrictPriority::new(self.levels, cap, None)),
            QueueKind::Pfabric => Queue::PFabric(PFabricQueue::new(cap)),
        }
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
                ports.push(Port {
                    node: NodeId(from),
                    peer: NodeId(to),
                    rate: l.rate,
                    hop,
                    queue: queues.build(l.rate, at_host),
                    busy_until: Picos::ZERO,
                    wake_pending: false,
                    tx_packets: 0,
                    tx_bytes: 0,
                    drops: 0,
                    hdr_time: l.rate.tx_time(hdr),
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
        Network { params, ports, host_port, routes, topology, dropped: Vec::new() }
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
    #[inline]
    pub fn route(&self, switch: NodeId, pool: &PacketPool, pkt: PacketId, spray_draw: u64) -> PortId {
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

    /// Start serializing `pkt` on `port` (which must be idle). Returns the time
    /// the packet reaches the next node and that node; updates the port.
    #[inline]
    pub fn start_tx(&mut self, now: Picos, port: PortId, pkt: PacketId, pool: &mut PacketPool) -> (Picos, NodeId) {
        let hosts = self.params.hosts;
        let cut = self.params.cut_through;
        let prop = self.params.propagation;
        let sd = self.params.switch_delay;
        let pt = &mut self.ports[port.idx()];
        let p = pool.get_mut(pkt);
        let ser = pt.rate.tx_time(p.wire_bytes as u64);
        let start = if cut { now.max(p.last_byte_at.saturating_sub(ser)) } else { now };
        let end = start + ser;
        pt.busy_until = end;
        pt.tx_packets += 1;
        pt.tx_bytes += p.wire_bytes as u64;
        let next = pt.peer;
        let arrive = if next.0 < hosts {
            p.last_byte_at = end + prop;
            end + prop
        } else {
            p.last_byte_at = end + prop + sd;
            if cut {
                start + pt.hdr_time + prop + sd
            } else {
                end + prop + sd
            }
        };
        (arrive, next)
    }
}
