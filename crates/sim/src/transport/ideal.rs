//! Ideal: the SRPT lower bound the pFabric paper (SIGCOMM 2013, §5, "Ideal")
//! compares against, as a flow-level model.
//!
//! The network is modelled as a non-blocking switch in which each host sends
//! at most one flow and receives at most one flow at a time, at line rate.
//! At every flow arrival and every completion, the scheduler re-runs a
//! greedy SRPT matching: active flows in order of remaining work (ties: lower
//! flow id) are scheduled whenever both their source and their destination
//! are still free; the others wait. Scheduled flows may be preempted at the
//! next arrival or completion. Greedy SRPT matching is a 2-approximation of
//! the optimal schedule, which is what the pFabric paper uses as "Ideal".
//!
//! How it relates to OPT (the one definition in [`crate::opt`]): a flow's
//! *work* is the serialization time of all its packets (headers included) at
//! the host rate, `S`. When the matching has given a flow `S` of service, its
//! last byte still has to cross the network: its record's finish time is
//! that moment plus `OPT - S` (the part of OPT that is not serialization at
//! the source: the pipeline through the path). So a lone flow finishes in
//! exactly OPT, every flow's slowdown is >= 1, and slowdowns are directly
//! comparable with the packet-level protocols, through the same
//! [`crate::metrics::FlowRecord`] path (`World::complete` at that time).
//!
//! No packets are sent: the model bypasses the packet network entirely
//! (link speeds in the fabric, buffers and queue disciplines are ignored;
//! only the host rate and OPT enter). Work is integer picoseconds, so the
//! model is exact and deterministic.

use crate::ids::{FlowId, HostId};
use crate::opt;
use crate::packet::PacketId;
use crate::scenario::Scenario;
use crate::transport::Transport;
use crate::units::Picos;
use crate::world::World;

/// Timer `a`: re-match at the next completion (b = generation).
const T_MATCH: u32 = 0;
/// Timer `a`: report that flow `b` has finished (its last byte arrived).
const T_DONE: u32 = 1;

#[derive(Clone, Debug, Default)]
struct Flow {
    /// Service still needed, picoseconds at the host rate.
    left: u64,
    /// OPT - work: the path's pipeline latency for this flow.
    tail: Picos,
    running: bool,
}

pub struct Ideal {
    flows: Vec<Flow>,
    /// Flows with work left, in no particular order (sorted at each match).
    active: Vec<FlowId>,
    /// When `left` of the running flows was last brought up to date.
    updated: Picos,
    generation: u32,
    send_busy: Vec<bool>,
    recv_busy: Vec<bool>,
}

impl Ideal {
    pub fn new(sc: &Scenario, flows: usize) -> Ideal {
        let hosts = sc.topology.num_hosts() as usize;
        Ideal {
            flows: vec![Flow::default(); flows],
            active: Vec::new(),
            updated: Picos::ZERO,
            generation: 0,
            send_busy: vec![false; hosts],
            recv_busy: vec![false; hosts],
        }
    }

    /// Charge the running flows for the time since the last update and
    /// retire those that are done.
    fn advance(&mut self, w: &mut World) {
        let dt = (w.now - self.updated).0;
        self.updated = w.now;
        let mut i = 0;
        while i < self.active.len() {
            let id = self.active[i];
            let f = &mut self.flows[id.idx()];
            if f.running {
                f.left = f.left.saturating_sub(dt);
                if f.left == 0 {
                    f.running = false;
                    let tail = f.tail;
                    self.active.swap_remove(i);
                    if tail == Picos::ZERO {
                        w.complete(id);
                    } else {
                        w.timer(w.now + tail, T_DONE, id.0);
                    }
                    continue;
                }
            }
            i += 1;
        }
    }

    /// Greedy SRPT matching, and a timer for the next completion.
    fn rematch(&mut self, w: &mut World) {
        let flows = &self.flows;
        self.active
            .sort_unstable_by_key(|id| (flows[id.idx()].left, *id));
        let mut next = u64::MAX;
        for &id in &self.active {
            let spec = &w.flows[id.idx()];
            let (s, d) = (spec.src.idx(), spec.dst.idx());
            let f = &mut self.flows[id.idx()];
            f.running = !self.send_busy[s] && !self.recv_busy[d];
            if f.running {
                self.send_busy[s] = true;
                self.recv_busy[d] = true;
                next = next.min(f.left);
            }
        }
        // Reset the busy marks through the same list (no O(hosts) sweep).
        for &id in &self.active {
            let spec = &w.flows[id.idx()];
            self.send_busy[spec.src.idx()] = false;
            self.recv_busy[spec.dst.idx()] = false;
        }
        self.generation = self.generation.wrapping_add(1);
        if next != u64::MAX {
            w.timer(w.now + Picos(next), T_MATCH, self.generation);
        }
    }
}

impl Transport for Ideal {
    fn on_flow_arrival(&mut self, w: &mut World, id: FlowId) {
        let spec = w.flow(id);
        let (src, dst, size) = (spec.src, spec.dst, spec.size);
        let p = w.params();
        let n = p.packets_for(size);
        let full = p.host_rate.tx_time(p.mtu as u64);
        let last = p.host_rate.tx_time(p.data_wire_bytes(size, n - 1) as u64);
        // Per packet, exactly as the NIC serializes them (and OPT counts them).
        let work = full.mul(n as u64 - 1) + last;
        let rates = opt::path_rates(&w.net, src, dst);
        let o = opt::opt_fct(w.params(), &rates, size);
        self.advance(w);
        self.flows[id.idx()] = Flow {
            left: work.0.max(1),
            tail: o.saturating_sub(work),
            running: false,
        };
        self.active.push(id);
        self.rematch(w);
    }

    fn on_packet(&mut self, w: &mut World, _host: HostId, pkt: PacketId) {
        // Ideal sends no packets; free anything that arrives regardless.
        w.packets.free(pkt);
    }

    fn on_timer(&mut self, w: &mut World, a: u32, b: u32) {
        match a {
            T_DONE => w.complete(FlowId(b)),
            _ => {
                if b == self.generation {
                    self.advance(w);
                    self.rematch(w);
                }
            }
        }
    }
}
