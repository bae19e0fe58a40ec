//! Fastpass (Perry, Ousterhout, Balakrishnan, Shah, Fugal, "Fastpass: A
//! Centralized 'Zero-Queue' Datacenter Network", SIGCOMM 2014).
//!
//! A central arbiter decides, for every timeslot, which source sends one
//! packet to which destination, so that no two packets leave one source or
//! head for one destination in the same timeslot and queues stay (nearly)
//! empty.
//!
//! Modelling choices, and why:
//!
//! * **Arbiter.** It sits at host `fastpass_arbiter` (default 0): its
//!   requests and allocations cross the real network and share that host's
//!   link, as with the paper's arbiter server. It takes zero processing time
//!   and all clocks are perfectly synchronized (the assumptions), so
//!   timeslot `s` is the same absolute interval `[s T, (s + 1) T)` at every
//!   host. `T` is the transmission time of one MTU *plus one header* at the
//!   host rate: every data packet is acked by its receiver, and a host that
//!   sends and receives in every slot must fit one data packet and one ack
//!   into each slot on both of its links, or its access links would be
//!   overloaded by header/MTU (2.7%) and queue without bound (the paper's
//!   acks are ordinary packets that also take timeslots).
//! * **Epochs.** The arbiter works in epochs of `fastpass_epoch_slots`
//!   (default 8) timeslots. At the start of epoch `k` it allocates all the
//!   timeslots of epoch `k + L`, where `L` (at least 1) is the smallest
//!   number of epochs that covers the worst arbiter-to-host latency of an
//!   allocation (the longest path's one-way time for a control packet plus
//!   the arbiter NIC serializing one allocation per host), so allocations
//!   arrive before their slots. It then sends each source that got slots one
//!   40 B allocation packet (the header size) listing them; the list itself
//!   is kept beside the packet in the transport (packets here carry no
//!   payload) and read when the packet arrives. The arbiter only ticks while
//!   it has demand.
//! * **Requests.** A source sends one 40 B request per flow when the flow
//!   arrives, stating its demand in packets (the whole flow: the data is
//!   all there). Demand is per flow (a flow is one source-destination pair).
//! * **Per-timeslot matching.** For each timeslot the arbiter walks its flows
//!   with demand in allocation order and gives the slot to every flow whose
//!   source and destination are both still free in that slot (a maximal
//!   matching: at most one packet per source and per destination per slot).
//!   The order (`fastpass_order`) is "fair" (the paper's default: least
//!   recently allocated first, which is max-min fair) or "srpt" (fewest
//!   remaining packets first, the paper's FCT-minimizing variant).
//! * **Sending.** A source sends one packet at the start of each allocated
//!   timeslot (retransmissions first, then new data) and never otherwise; a
//!   slot whose allocation arrives late is skipped. Data packets carry their
//!   timeslot in `aux`.
//! * **Reliability.** The receiver acks every data packet (40 B, highest
//!   priority; acks are not arbitrated). A flow with no progress (no new
//!   ack, no allocation) for the retransmission timeout (`rto`, default
//!   45 us, doubling up to 32 x while nothing happens) declares its unacked
//!   packets lost and re-sends its request, stating the demand it still has
//!   (the arbiter replaces the flow's demand with it). Lost requests,
//!   allocations and data are all recovered this way.
//! * **Queues.** Strict priority with control packets (requests,
//!   allocations, acks) at level 0 and data at level 1, like the paper's
//!   separate class for Fastpass control traffic; data queues stay near
//!   empty by construction.
//!
//! Allocation lists lost with their packet are not reclaimed (a few bytes
//! each, only under injected loss).

use std::collections::VecDeque;

use crate::ids::{FlowId, HostId};
use crate::opt;
use crate::packet::{PacketId, PacketKind};
use crate::scenario::{FastpassOrder, Scenario};
use crate::transport::bitmap::{bit, set};
use crate::transport::Transport;
use crate::units::Picos;
use crate::world::World;

const NO_TIMER: Picos = Picos::MAX;
const MAX_BACKOFF: u32 = 5;

// Control sub-types (`aux`).
const REQUEST: u32 = 1;
const ALLOC: u32 = 2;

// Timer kinds (`a`).
const T_EPOCH: u32 = 0;
const T_SLOT: u32 = 1;
const T_FLOW: u32 = 2;

#[derive(Clone, Debug, Default)]
struct Flow {
    total: u32,
    // --- source
    next_new: u32,
    retx: VecDeque<u32>,
    acked: Vec<u64>,
    acked_count: u32,
    deadline: Picos,
    timer_event: Picos,
    backoff: u32,
    // --- arbiter
    demand: u32,
    listed: bool,
    // --- receiver
    received: Vec<u64>,
    rcv_count: u32,
}

pub struct Fastpass {
    arbiter: HostId,
    slot: Picos,
    epoch_slots: u64,
    order: FastpassOrder,
    rto: Picos,
    /// Epochs between computing an allocation and using it (0 = not yet known).
    lead: u64,
    flows: Vec<Flow>,
    /// Flows with demand at the arbiter, in allocation order.
    active: Vec<FlowId>,
    /// Reused buffers of the matching.
    kept: Vec<FlowId>,
    chosen: Vec<FlowId>,
    src_busy: Vec<bool>,
    dst_busy: Vec<bool>,
    /// (source, slot, flow) allocated in the current epoch.
    grants: Vec<(u32, u64, FlowId)>,
    ticking: bool,
    /// Allocation lists travelling in allocation packets, and free indices.
    batches: Vec<Vec<(u64, FlowId)>>,
    free_batches: Vec<u32>,
}

impl Fastpass {
    pub fn new(sc: &Scenario, flows: usize) -> Fastpass {
        let hosts = sc.topology.num_hosts() as usize;
        let tr = &sc.transport;
        Fastpass {
            arbiter: HostId(tr.fastpass_arbiter),
            // One MTU plus one header: room for the ack going the other way.
            slot: sc
                .topology
                .host_rate
                .0
                .tx_time((sc.topology.mtu + sc.topology.header) as u64),
            epoch_slots: tr.fastpass_epoch_slots as u64,
            order: tr.fastpass_order,
            rto: tr.rto.map_or(Picos::from_us(45), |d| d.0),
            lead: 0,
            flows: vec![Flow::default(); flows],
            active: Vec::new(),
            kept: Vec::new(),
            chosen: Vec::new(),
            src_busy: vec![false; hosts],
            dst_busy: vec![false; hosts],
            grants: Vec::new(),
            ticking: false,
            batches: Vec::new(),
            free_batches: Vec::new(),
        }
    }

    fn epoch(&self) -> Picos {
        self.slot.mul(self.epoch_slots)
    }

    /// Epochs of lead time that cover the worst allocation latency.
    fn compute_lead(&mut self, w: &World) {
        let hosts = w.params().hosts;
        let mut worst = Picos::ZERO;
        for h in 0..hosts {
            let rates = opt::path_rates(&w.net, self.arbiter, HostId(h));
            worst = worst.max(opt::opt_fct(w.params(), &rates, 1));
        }
        let p = w.params();
        let burst = p.host_rate.tx_time(p.header as u64).mul(hosts as u64);
        let need = worst + burst + self.slot;
        self.lead = need.0.div_ceil(self.epoch().0).max(1);
    }

    // ------------------------------------------------------------ source

    fn arm(&mut self, w: &mut World, id: FlowId) {
        let f = &mut self.flows[id.idx()];
        f.deadline = w.now + self.rto.mul(1 << f.backoff);
        if f.timer_event == NO_TIMER {
            f.timer_event = f.deadline;
            w.timer(f.deadline, T_FLOW, id.0);
        }
    }

    fn progress(&mut self, w: &mut World, id: FlowId) {
        self.flows[id.idx()].backoff = 0;
        self.arm(w, id);
    }

    fn on_alloc(&mut self, w: &mut World, pkt: PacketId) {
        let idx = w.packets.get(pkt).seq;
        w.packets.free(pkt);
        let mut list = std::mem::take(&mut self.batches[idx as usize]);
        for &(slot, id) in &list {
            let at = self.slot.mul(slot);
            if at >= w.now {
                w.timer(at, T_SLOT, id.0);
            }
            if self.flows[id.idx()].acked_count < self.flows[id.idx()].total {
                self.progress(w, id);
            }
        }
        list.clear();
        self.batches[idx as usize] = list;
        self.free_batches.push(idx);
    }

    /// The start of an allocated timeslot: send one packet of the flow.
    fn on_slot(&mut self, w: &mut World, id: FlowId) {
        let f = &mut self.flows[id.idx()];
        if f.acked_count >= f.total {
            return;
        }
        let mut seq = None;
        while let Some(s) = f.retx.pop_front() {
            if !bit(&f.acked, s) {
                seq = Some((s, true));
                break;
            }
        }
        if seq.is_none() && f.next_new < f.total {
            seq = Some((f.next_new, false));
            f.next_new += 1;
        }
        let Some((seq, retx)) = seq else { return };
        let slot = (w.now.0 / self.slot.0) as u32;
        let pkt = w.data_packet(id, seq);
        let p = w.packets.get_mut(pkt);
        p.priority = 1;
        p.aux = slot;
        p.retransmit = retx;
        if retx {
            w.note_retransmit(id);
        }
        w.send(pkt);
    }

    fn on_ack(&mut self, w: &mut World, pkt: PacketId) {
        let (id, seq) = {
            let p = w.packets.get(pkt);
            (p.flow, p.seq)
        };
        w.packets.free(pkt);
        let f = &mut self.flows[id.idx()];
        if f.acked_count >= f.total || bit(&f.acked, seq) {
            return;
        }
        set(&mut f.acked, seq);
        f.acked_count += 1;
        if f.acked_count == f.total {
            f.deadline = NO_TIMER;
            f.acked = Vec::new();
            f.retx = VecDeque::new();
            return;
        }
        self.progress(w, id);
    }

    fn on_flow_timer(&mut self, w: &mut World, id: FlowId) {
        let f = &mut self.flows[id.idx()];
        f.timer_event = NO_TIMER;
        if f.acked_count >= f.total || f.deadline == NO_TIMER {
            return;
        }
        if f.deadline > w.now {
            f.timer_event = f.deadline;
            w.timer(f.deadline, T_FLOW, id.0);
            return;
        }
        // No progress for a whole timeout: what was sent and not acked is lost.
        f.retx.clear();
        for s in 0..f.next_new {
            if !bit(&f.acked, s) {
                f.retx.push_back(s);
            }
        }
        let need = f.retx.len() as u32 + (f.total - f.next_new);
        f.backoff = (f.backoff + 1).min(MAX_BACKOFF);
        let src = w.flow(id).src;
        if need > 0 {
            w.send_control(id, src, self.arbiter, PacketKind::Control, REQUEST, need);
        }
        self.arm(w, id);
    }

    // ------------------------------------------------------------ arbiter

    fn on_request(&mut self, w: &mut World, id: FlowId, demand: u32) {
        let f = &mut self.flows[id.idx()];
        f.demand = demand;
        if demand > 0 && !f.listed {
            f.listed = true;
            self.active.push(id);
        }
        if !self.ticking && !self.active.is_empty() {
            self.ticking = true;
            let e = self.epoch().0;
            let at = Picos(w.now.0.div_ceil(e) * e);
            w.timer(at, T_EPOCH, 0);
        }
    }

    /// Start of an epoch: allocate the timeslots of epoch `k + lead`.
    fn on_epoch(&mut self, w: &mut World) {
        let k = w.now.0 / self.epoch().0;
        let first = (k + self.lead) * self.epoch_slots;
        for slot in first..first + self.epoch_slots {
            if self.active.is_empty() {
                break;
            }
            self.match_slot(w, slot);
        }
        self.send_allocations(w);
        if self.active.is_empty() {
            self.ticking = false;
        } else {
            w.timer(w.now + self.epoch(), T_EPOCH, 0);
        }
    }

    fn match_slot(&mut self, w: &World, slot: u64) {
        if self.order == FastpassOrder::Srpt {
            let flows = &self.flows;
            self.active
                .sort_unstable_by_key(|id| (flows[id.idx()].demand, *id));
        }
        self.kept.clear();
        self.chosen.clear();
        for &id in &self.active {
            let spec = &w.flows[id.idx()];
            let (s, d) = (spec.src.idx(), spec.dst.idx());
            if self.src_busy[s] || self.dst_busy[d] {
                self.kept.push(id);
                continue;
            }
            self.src_busy[s] = true;
            self.dst_busy[d] = true;
            self.grants.push((spec.src.0, slot, id));
            let f = &mut self.flows[id.idx()];
            f.demand -= 1;
            if f.demand > 0 {
                self.chosen.push(id);
            } else {
                f.listed = false;
            }
        }
        for &(src, s, id) in self.grants.iter().rev() {
            if s != slot {
                break;
            }
            self.src_busy[src as usize] = false;
            self.dst_busy[w.flows[id.idx()].dst.idx()] = false;
        }
        // Fair order: whoever got this slot goes to the back.
        self.active.clear();
        self.active.extend_from_slice(&self.kept);
        self.active.extend_from_slice(&self.chosen);
    }

    fn send_allocations(&mut self, w: &mut World) {
        if self.grants.is_empty() {
            return;
        }
        // Group by source (stable: slots stay in order within a source).
        self.grants.sort_by_key(|g| (g.0, g.1));
        let mut i = 0;
        while i < self.grants.len() {
            let src = self.grants[i].0;
            let idx = match self.free_batches.pop() {
                Some(b) => b,
                None => {
                    self.batches.push(Vec::new());
                    (self.batches.len() - 1) as u32
                }
            };
            let first_flow = self.grants[i].2;
            while i < self.grants.len() && self.grants[i].0 == src {
                let (_, slot, id) = self.grants[i];
                self.batches[idx as usize].push((slot, id));
                i += 1;
            }
            w.send_control(
                first_flow,
                self.arbiter,
                HostId(src),
                PacketKind::Control,
                ALLOC,
                idx,
            );
        }
        self.grants.clear();
    }

    // ------------------------------------------------------------ receiver

    fn on_data(&mut self, w: &mut World, host: HostId, pkt: PacketId) {
        let (id, seq) = {
            let p = w.packets.get(pkt);
            (p.flow, p.seq)
        };
        w.packets.free(pkt);
        let f = &mut self.flows[id.idx()];
        if f.rcv_count < f.total {
            if f.received.is_empty() {
                f.received = vec![0u64; (f.total as usize).div_ceil(64)];
            }
            if !bit(&f.received, seq) {
                set(&mut f.received, seq);
                f.rcv_count += 1;
                if f.rcv_count == f.total {
                    f.received = Vec::new();
                    w.complete(id);
                }
            }
        }
        let src = w.flow(id).src;
        w.send_control(id, host, src, PacketKind::Ack, 0, seq);
    }
}

impl Transport for Fastpass {
    fn on_flow_arrival(&mut self, w: &mut World, id: FlowId) {
        if self.lead == 0 {
            self.compute_lead(w);
        }
        let total = w.params().packets_for(w.flow(id).size);
        let src = w.flow(id).src;
        let f = &mut self.flows[id.idx()];
        f.total = total;
        f.acked = vec![0u64; (total as usize).div_ceil(64)];
        f.deadline = NO_TIMER;
        f.timer_event = NO_TIMER;
        w.send_control(id, src, self.arbiter, PacketKind::Control, REQUEST, total);
        self.arm(w, id);
    }

    fn on_packet(&mut self, w: &mut World, host: HostId, pkt: PacketId) {
        let p = w.packets.get(pkt);
        match (p.kind, p.aux) {
            (PacketKind::Data, _) => self.on_data(w, host, pkt),
            (PacketKind::Ack, _) => self.on_ack(w, pkt),
            (PacketKind::Control, REQUEST) => {
                let (id, demand) = (p.flow, p.seq);
                w.packets.free(pkt);
                self.on_request(w, id, demand);
            }
            (PacketKind::Control, ALLOC) => self.on_alloc(w, pkt),
            (PacketKind::Control, _) => w.packets.free(pkt),
        }
    }

    fn on_timer(&mut self, w: &mut World, a: u32, b: u32) {
        match a {
            T_EPOCH => self.on_epoch(w),
            T_SLOT => self.on_slot(w, FlowId(b)),
            T_FLOW => self.on_flow_timer(w, FlowId(b)),
            _ => unreachable!("unknown Fastpass timer {a}"),
        }
    }
}
