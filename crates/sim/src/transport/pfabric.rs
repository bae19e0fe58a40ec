//! pFabric (Alizadeh et al., "pFabric: Minimal Near-Optimal Datacenter
//! Transport", SIGCOMM 2013).
//!
//! pFabric decouples flow scheduling from rate control. Every packet carries
//! its flow's *remaining size* as its priority; switches
//! ([`crate::queue::PFabricQueue`]) send the earliest packet of the most
//! urgent flow and, when full, drop the least urgent packet. End hosts do
//! little more than start at line rate and recover losses.
//!
//! Modelling choices, and why:
//!
//! * **Priority** = payload bytes of the flow not yet acknowledged (the
//!   paper: "remaining flow size"), at least 1, so acks (priority 0) always
//!   go first. It is computed per packet from the acked count, so it shrinks
//!   as the flow progresses.
//! * **Host scheduling.** The host NIC pulls packets (see
//!   [`super::nic_pulls`]): whenever it is free, the host sends the next
//!   packet of its flow with the fewest remaining bytes that has window room
//!   (ties: lower flow id). This is the paper's "hosts also schedule by
//!   priority" and keeps a host from queueing a long flow's window ahead of
//!   a short flow that arrives later.
//! * **Rate control** (the paper's §4.2): flows start with a window of
//!   `init_window` packets (default 12, one BDP of the paper's fabric and
//!   more than the BDP of a 10 Gbps leaf-spine, so a lone flow runs at line
//!   rate and finishes in exactly OPT), grow it by slow start and then
//!   additive increase on every newly acked packet, and on a timeout set
//!   ssthresh to half the window and the window to one packet. There is no
//!   fast retransmit: pFabric's switches drop by priority, so loss is
//!   detected by the fixed retransmission timeout (`rto`, default 45 us)
//!   only; the timer is re-armed by every ack that acknowledges something new.
//! * **Selective retransmission.** The receiver acks every data packet with
//!   its sequence number (and the cumulative ack); the sender keeps a bitmap
//!   of what was acked and after a timeout resends from the first unacked
//!   packet, skipping everything already acked (as with SACK in the paper's
//!   ns-2 code).
//! * **Probe mode.** After `PROBE_AFTER` (5) consecutive timeouts without any
//!   ack, the flow stops sending data and sends one header-only probe (with
//!   its priority) per timeout until an ack comes back, then resumes with a
//!   window of one packet. This keeps a starved low-priority flow from
//!   wasting bandwidth on packets that would be dropped.
//!
//! The retransmission timer is lazy, as in TCP: an ack only moves the
//! deadline; the one pending timer event re-schedules itself if it fires
//! early.

use crate::ids::{FlowId, HostId};
use crate::packet::{PacketId, PacketKind};
use crate::scenario::Scenario;
use crate::transport::bitmap::{bit, set};
use crate::transport::Transport;
use crate::units::Picos;
use crate::world::World;

const NO_TIMER: Picos = Picos::MAX;
/// Consecutive timeouts after which a flow goes into probe mode.
pub const PROBE_AFTER: u32 = 5;
/// `aux` of a probe (a `Control` packet).
const PROBE: u32 = 1;

#[derive(Clone, Debug, Default)]
struct Flow {
    total: u32,
    // --- sender
    /// Bit i: packet i has been acknowledged.
    acked: Vec<u64>,
    acked_count: u32,
    /// First packet not yet acked.
    una: u32,
    /// Next packet to (re)send (skipping acked ones).
    nxt: u32,
    /// Highest sequence ever sent + 1.
    high: u32,
    /// Packets sent since the last timeout and not acked yet.
    inflight: u32,
    cwnd: f64,
    ssthresh: f64,
    timeouts: u32,
    probing: bool,
    deadline: Picos,
    timer_event: Picos,
    done_sending: bool,
    // --- receiver
    received: Vec<u64>,
    rcv_count: u32,
    rcv_next: u32,
}

pub struct PFabric {
    init_window: f64,
    rto: Picos,
    flows: Vec<Flow>,
    /// Flows with unacked data, per source host.
    active: Vec<Vec<FlowId>>,
}

impl PFabric {
    pub fn new(sc: &Scenario, flows: usize) -> PFabric {
        PFabric {
            init_window: sc.transport.init_window.unwrap_or(12) as f64,
            rto: sc.transport.rto.map_or(Picos::from_us(45), |d| d.0),
            flows: vec![Flow::default(); flows],
            active: vec![Vec::new(); sc.topology.num_hosts() as usize],
        }
    }

    /// Remaining payload bytes of a flow, the pFabric priority (>= 1).
    fn remaining(w: &World, f: &Flow, id: FlowId) -> u64 {
        let size = w.flow(id).size;
        let done = f.acked_count as u64 * w.params().payload() as u64;
        size.saturating_sub(done).max(1)
    }

    /// The flow a free NIC at `host` should serve: fewest remaining bytes
    /// among flows with window room and something to send.
    fn pick(&self, w: &World, host: HostId) -> Option<FlowId> {
        let mut best: Option<(u64, FlowId)> = None;
        for &id in &self.active[host.idx()] {
            let f = &self.flows[id.idx()];
            if f.probing || f.nxt >= f.total || f.inflight as f64 >= f.cwnd.floor().max(1.0) {
                continue;
            }
            let key = (Self::remaining(w, f, id), id);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        best.map(|b| b.1)
    }

    /// Send one packet from `host` if its NIC is free and a flow can send.
    fn pull(&mut self, w: &mut World, host: HostId) {
        if let Some(id) = self.pick(w, host) {
            self.send_next(w, id);
        }
    }

    fn send_next(&mut self, w: &mut World, id: FlowId) {
        let prio = Self::remaining(w, &self.flows[id.idx()], id);
        let f = &mut self.flows[id.idx()];
        let seq = f.nxt;
        f.inflight += 1;
        // Advance to the next packet not yet acked.
        f.nxt += 1;
        while f.nxt < f.total && bit(&f.acked, f.nxt) {
            f.nxt += 1;
        }
        let retx = seq < f.high;
        if !retx {
            f.high = seq + 1;
        }
        let pkt = w.data_packet(id, seq);
        let p = w.packets.get_mut(pkt);
        p.priority = prio;
        if retx {
            p.retransmit = true;
            w.note_retransmit(id);
        }
        w.send(pkt);
        if self.flows[id.idx()].deadline == NO_TIMER {
            self.arm(w, id);
        }
    }

    fn arm(&mut self, w: &mut World, id: FlowId) {
        let f = &mut self.flows[id.idx()];
        f.deadline = w.now + self.rto;
        if f.timer_event == NO_TIMER {
            f.timer_event = f.deadline;
            w.timer(f.deadline, id.0, 0);
        }
    }

    fn on_data(&mut self, w: &mut World, host: HostId, pkt: PacketId, probe: bool) {
        let (id, seq) = {
            let p = w.packets.get(pkt);
            (p.flow, p.seq)
        };
        w.packets.free(pkt);
        let f = &mut self.flows[id.idx()];
        if !probe && f.rcv_count < f.total {
            if f.received.is_empty() {
                f.received = vec![0u64; (f.total as usize).div_ceil(64)];
            }
            if !bit(&f.received, seq) {
                set(&mut f.received, seq);
                f.rcv_count += 1;
                while f.rcv_next < f.total && bit(&f.received, f.rcv_next) {
                    f.rcv_next += 1;
                }
                if f.rcv_count == f.total {
                    f.received = Vec::new();
                    w.complete(id);
                }
            }
        }
        let ack_no = if f.rcv_count >= f.total {
            f.total
        } else {
            f.rcv_next
        };
        let src = w.flow(id).src;
        let ack = w.control_packet(id, host, src, PacketKind::Ack);
        let p = w.packets.get_mut(ack);
        p.seq = ack_no;
        // A probe asks only for the cumulative ack; u32::MAX acks no packet.
        p.aux = if probe { u32::MAX } else { seq };
        p.priority = 0;
        w.send(ack);
    }

    fn on_ack(&mut self, w: &mut World, pkt: PacketId) {
        let (id, cum, seq) = {
            let p = w.packets.get(pkt);
            (p.flow, p.seq, p.aux)
        };
        w.packets.free(pkt);
        let src = w.flow(id).src;
        let f = &mut self.flows[id.idx()];
        if f.done_sending {
            return;
        }
        let mut newly = 0u32;
        let mut mark = |f: &mut Flow, s: u32| {
            if s < f.total && !bit(&f.acked, s) {
                set(&mut f.acked, s);
                f.acked_count += 1;
                f.inflight = f.inflight.saturating_sub(1);
                newly += 1;
            }
        };
        if seq != u32::MAX {
            mark(f, seq);
        }
        // The cumulative ack covers packets whose own acks were lost.
        while f.una < cum.min(f.total) {
            let s = f.una;
            mark(f, s);
            f.una += 1;
        }
        while f.una < f.total && bit(&f.acked, f.una) {
            f.una += 1;
        }
        if f.nxt < f.una {
            f.nxt = f.una;
        }
        while f.nxt < f.total && bit(&f.acked, f.nxt) {
            f.nxt += 1;
        }
        if f.probing {
            // Any answer ends probe mode: resume gently from the first hole.
            f.probing = false;
            f.timeouts = 0;
            f.cwnd = 1.0;
            f.inflight = 0;
            f.nxt = f.una;
        }
        if newly > 0 {
            f.timeouts = 0;
            for _ in 0..newly {
                if f.cwnd < f.ssthresh {
                    f.cwnd += 1.0;
                } else {
                    f.cwnd += 1.0 / f.cwnd;
                }
            }
        }
        if f.acked_count >= f.total {
            f.done_sending = true;
            f.deadline = NO_TIMER;
            f.acked = Vec::new();
            let list = &mut self.active[src.idx()];
            if let Some(i) = list.iter().position(|&x| x == id) {
                list.swap_remove(i);
            }
            return;
        }
        if newly > 0 {
            self.arm(w, id);
        }
        if w.nic_idle(src) {
            self.pull(w, src);
        }
    }

    fn on_timeout(&mut self, w: &mut World, id: FlowId) {
        let f = &mut self.flows[id.idx()];
        f.timer_event = NO_TIMER;
        if f.done_sending || f.deadline == NO_TIMER {
            return;
        }
        if f.deadline > w.now {
            f.timer_event = f.deadline;
            w.timer(f.deadline, id.0, 0);
            return;
        }
        f.timeouts += 1;
        f.ssthresh = (f.cwnd / 2.0).max(2.0);
        f.cwnd = 1.0;
        f.inflight = 0;
        f.nxt = f.una;
        let src = w.flow(id).src;
        if f.timeouts >= PROBE_AFTER {
            f.probing = true;
            let dst = w.flow(id).dst;
            let prio = Self::remaining(w, &self.flows[id.idx()], id);
            let probe = w.control_packet(id, src, dst, PacketKind::Control);
            let p = w.packets.get_mut(probe);
            p.aux = PROBE;
            p.priority = prio;
            w.send(probe);
        }
        self.arm(w, id);
        if w.nic_idle(src) {
            self.pull(w, src);
        }
    }
}

impl Transport for PFabric {
    fn on_flow_arrival(&mut self, w: &mut World, id: FlowId) {
        let total = w.params().packets_for(w.flow(id).size);
        let src = w.flow(id).src;
        let f = &mut self.flows[id.idx()];
        f.total = total;
        f.acked = vec![0u64; (total as usize).div_ceil(64)];
        f.cwnd = self.init_window;
        f.ssthresh = f64::INFINITY;
        f.deadline = NO_TIMER;
        f.timer_event = NO_TIMER;
        self.active[src.idx()].push(id);
        if w.nic_idle(src) {
            self.pull(w, src);
        }
    }

    fn on_packet(&mut self, w: &mut World, host: HostId, pkt: PacketId) {
        let p = w.packets.get(pkt);
        match p.kind {
            PacketKind::Data => self.on_data(w, host, pkt, false),
            PacketKind::Control if p.aux == PROBE => self.on_data(w, host, pkt, true),
            PacketKind::Ack => self.on_ack(w, pkt),
            PacketKind::Control => w.packets.free(pkt),
        }
    }

    fn on_timer(&mut self, w: &mut World, a: u32, _b: u32) {
        self.on_timeout(w, FlowId(a));
    }

    fn on_nic_idle(&mut self, w: &mut World, host: HostId) {
        self.pull(w, host);
    }
}
