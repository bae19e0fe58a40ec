//! pHost (Gao, Narayan, Kumar, Agarwal, Ratnasamy, Shenker, "pHost:
//! Distributed Near-Optimal Datacenter Transport Over Commodity Network
//! Fabric", CoNEXT 2015; P. X. Gao's dissertation "Next Generation Datacenter
//! Architecture", UC Berkeley, chapter 5).
//!
//! pHost schedules at the end hosts over a commodity fabric with a few
//! priority levels: destinations hand out *tokens* (one per packet) and
//! sources send only what they hold tokens for.
//!
//! * **Source.** On a flow's arrival the source sends an RTS to the
//!   destination and may at once send the flow's first `free` packets
//!   ("free tokens", default `phost_bdp` = 8, one BDP) without waiting. The
//!   NIC pulls (see [`super::nic_pulls`]): whenever it is free, the source
//!   picks, by its policy, one of its flows that holds an unexpired token or
//!   a free token, and sends one packet. Within a flow a real token is used
//!   before a free one, because tokens perish. A token expires 1.5 MTU
//!   times after it *reaches* the source; expired tokens are discarded.
//! * **Destination.** Each destination grants at most one token per MTU
//!   transmission time (of its access link), to the flow its policy picks
//!   among eligible flows. A token names the packet to send: the lowest
//!   packet not granted yet, or one to re-send. A flow is eligible when it
//!   has packets left to grant, fewer than `phost_bdp` tokens outstanding
//!   (granted, data not yet in), and is not downgraded.
//! * **Tokens are numbered.** Each token carries its number within its flow
//!   and the packet it asks for; a data packet carries the number of the
//!   token it answers (or says it used a free token), so the destination
//!   knows exactly which tokens were used, whatever packet they brought.
//! * **Loss recovery and wasted tokens.** A token not answered within the
//!   retransmission timeout (`rto`, default 9.5 us) is written off and its
//!   packet granted again later: this recovers lost tokens and lost data
//!   alike, as the destination cannot tell them apart from a token that
//!   expired at a busy source or data that is merely late in a queue. So
//!   that a merely-late packet is not sent twice, a source answering a token
//!   for a packet it has already sent sends its lowest unsent packet instead
//!   (a token is a permission to send one packet; the packet it names is the
//!   destination's wish); only when nothing is left unsent does it resend the
//!   named packet. Free packets not in within `rto` of the flow's last sign
//!   of life (the RTS or its latest data) are granted again the same way; a
//!   source receiving a token for one of them gives up its remaining free
//!   tokens (the destination now grants those packets one by one). Lost RTSs
//!   are covered twice: any data packet also announces its flow, and a
//!   source that has used its free tokens and heard nothing re-sends its RTS
//!   after 2 x `rto` (doubling each time). When the destination has every
//!   packet it sends an ACK so the source forgets the flow; data or an RTS
//!   for a finished flow is answered with another ACK.
//! * **Downgrade.** Tokens written off count as *wasted* (including tokens
//!   whose data is merely late: exempting flows that sent data since the
//!   grant made websearch slowdowns 8% worse, as queues then grow longer).
//!   When a flow
//!   wastes a BDP's worth (`phost_bdp`) of tokens within the downgrade
//!   timeout (24 MTU times; the count restarts after that long without
//!   reaching the threshold), its destination stops granting it tokens for
//!   the downgrade time (8 MTU times), so tokens go to sources that will use
//!   them. The paper keeps this state per source; it is kept per flow here
//!   (a flow is one source-destination pair; concurrent flows between the
//!   same pair are rare in the workloads).
//! * **Priorities.** Control packets (RTS, token, ACK) at level 0; data of
//!   short flows (at most `phost_bdp` packets) at level 1, long flows at
//!   level 2 (strict-priority switch ports, [`crate::queue::StrictPriority`]).
//! * **Policies** (`phost_policy` at destinations, `phost_source_policy` at
//!   sources, default the same): SRPT, fewest remaining packets first
//!   (destination: not yet received; source: not yet sent); EDF, earliest
//!   absolute deadline first (flows without a deadline last, then SRPT);
//!   tenant-fair, the tenant that has received (destination) or sent
//!   (source) fewer payload bytes so far at that host first, SRPT within a
//!   tenant; under tenant-fair all data goes at one priority level and there
//!   are no free tokens (unless `phost_free_tokens` says otherwise), so a
//!   tenant cannot grab bandwidth with many new flows.
//!
//! All choices scan small per-host `Vec`s of active flows (ties broken by
//! flow id), so runs are deterministic; per-flow state is allocated once at
//! arrival, never per packet.

use std::collections::VecDeque;

use crate::ids::{FlowId, HostId};
use crate::packet::{PacketId, PacketKind};
use crate::scenario::{PhostPolicy, Scenario};
use crate::transport::bitmap::{bit, set};
use crate::transport::Transport;
use crate::units::Picos;
use crate::world::World;

const NO_TIMER: Picos = Picos::MAX;

/// Control packets carry their sub-type in the top bits of `aux` and, for a
/// token, the token's number within its flow in the low bits.
pub const CTRL_SHIFT: u32 = 30;
pub const CTRL_RTS: u32 = 1;
pub const CTRL_TOKEN: u32 = 2;
const NUMBER_MASK: u32 = (1 << CTRL_SHIFT) - 1;

/// `aux` of a data packet sent under a free token; under token number `k`
/// it is `k + 1` (and `ts_echo` is the token's expiry time).
pub const DATA_FREE: u32 = 0;

// Timer kinds (`a`); `b` is a host or a flow id.
const T_PACER: u32 = 0;
const T_DST: u32 = 1;
const T_RTS: u32 = 2;

// Per-packet state at the destination.
const NEED: u8 = 0;
const FREE_PENDING: u8 = 1;
const GRANTED: u8 = 2;
const RECEIVED: u8 = 3;

#[derive(Clone, Debug)]
struct Token {
    seq: u32,
    /// Written off at this time if not answered.
    deadline: Picos,
    answered: bool,
}

#[derive(Clone, Debug, Default)]
struct Flow {
    total: u32,
    // --- source
    free_left: u32,
    /// Received tokens: (packet, expiry, number), in order of arrival.
    tokens: VecDeque<(u32, Picos, u32)>,
    /// Bit i: packet i has been sent at least once.
    sent_bits: Vec<u64>,
    /// Lowest packet never sent.
    unsent_from: u32,
    /// Data packets sent (for the source's SRPT).
    sent: u32,
    heard: bool,
    src_done: bool,
    rts_backoff: u32,
    // --- destination
    known: bool,
    dst_done: bool,
    state: Vec<u8>,
    /// Lowest packet never granted (packets below are granted, received or queued in `regrant`).
    next_new: u32,
    regrant: VecDeque<u32>,
    /// Tokens granted and not yet retired, in grant order; the first has number `base_k`.
    out: VecDeque<Token>,
    base_k: u32,
    n_out: u32,
    free_pending: u32,
    rcv_count: u32,
    last_sign: Picos,
    wasted: u32,
    waste_since: Picos,
    downgraded_until: Picos,
    dst_timer: Picos,
}

impl Flow {
    /// Drop stale entries so that "something to grant" is exact.
    fn grantable(&mut self) -> bool {
        while matches!(self.regrant.front(), Some(&s) if self.state[s as usize] != NEED) {
            self.regrant.pop_front();
        }
        while self.next_new < self.total && self.state[self.next_new as usize] != NEED {
            self.next_new += 1;
        }
        !self.regrant.is_empty() || self.next_new < self.total
    }
}

pub struct PHost {
    bdp: u32,
    free: u32,
    rto: Picos,
    mtu_time: Picos,
    expiry: Picos,
    downgrade: Picos,
    waste_window: Picos,
    dst_policy: PhostPolicy,
    src_policy: PhostPolicy,
    tenants: u32,
    flows: Vec<Flow>,
    src_active: Vec<Vec<FlowId>>,
    dst_active: Vec<Vec<FlowId>>,
    next_grant: Vec<Picos>,
    pacer_armed: Vec<bool>,
    /// Payload bytes per (host, tenant): sent by sources, received by destinations.
    src_tenant_bytes: Vec<u64>,
    dst_tenant_bytes: Vec<u64>,
}

impl PHost {
    pub fn new(sc: &Scenario, flows: usize) -> PHost {
        let tr = &sc.transport;
        let hosts = sc.topology.num_hosts() as usize;
        let bdp = tr.phost_bdp.unwrap_or(8);
        let dst_policy = tr.phost_policy;
        let src_policy = tr.phost_source_policy.unwrap_or(dst_policy);
        let fair = dst_policy == PhostPolicy::TenantFair;
        let free = tr.phost_free_tokens.unwrap_or(if fair { 0 } else { bdp });
        let mtu_time = sc.topology.host_rate.0.tx_time(sc.topology.mtu as u64);
        PHost {
            bdp,
            free,
            rto: tr.rto.map_or(Picos(9_500_000), |d| d.0),
            mtu_time,
            expiry: mtu_time.scale(3, 2),
            downgrade: mtu_time.mul(8),
            waste_window: mtu_time.mul(24),
            dst_policy,
            src_policy,
            tenants: 0,
            flows: vec![Flow::default(); flows],
            src_active: vec![Vec::new(); hosts],
            dst_active: vec![Vec::new(); hosts],
            next_grant: vec![Picos::ZERO; hosts],
            pacer_armed: vec![false; hosts],
            // Sized at the first arrival, from the flows' own tenant ids
            // (traces may use more tenants than `workload.tenants`).
            src_tenant_bytes: Vec::new(),
            dst_tenant_bytes: Vec::new(),
        }
    }

    fn tenant_slot(&self, w: &World, host: HostId, id: FlowId) -> usize {
        host.idx() * self.tenants as usize + w.flow(id).tenant as usize
    }

    /// Policy key (smaller first) of a flow with `remaining` packets.
    fn key(
        &self,
        w: &World,
        policy: PhostPolicy,
        tenant_bytes: u64,
        remaining: u32,
        id: FlowId,
    ) -> (u64, u64, u32) {
        match policy {
            PhostPolicy::Srpt => (remaining as u64, 0, id.0),
            PhostPolicy::Edf => {
                let spec = w.flow(id);
                let d = spec.deadline.map_or(u64::MAX, |d| (spec.start + d).0);
                (d, remaining as u64, id.0)
            }
            PhostPolicy::TenantFair => (tenant_bytes, remaining as u64, id.0),
        }
    }

    fn data_level(&self, f: &Flow) -> u64 {
        if self.dst_policy == PhostPolicy::TenantFair || f.total <= self.bdp {
            1
        } else {
            2
        }
    }

    // ------------------------------------------------------------ source

    /// A free NIC at `host`: send one packet under a token or a free token.
    fn pull(&mut self, w: &mut World, host: HostId) {
        let now = w.now;
        let mut best: Option<((u64, u64, u32), FlowId)> = None;
        for i in 0..self.src_active[host.idx()].len() {
            let id = self.src_active[host.idx()][i];
            let f = &mut self.flows[id.idx()];
            while matches!(f.tokens.front(), Some(&(_, exp, _)) if exp < now) {
                f.tokens.pop_front();
            }
            if f.tokens.is_empty() && (f.free_left == 0 || f.unsent_from >= f.total) {
                continue;
            }
            let remaining = f.total.saturating_sub(f.sent);
            let tb = self.src_tenant_bytes[self.tenant_slot(w, host, id)];
            let key = self.key(w, self.src_policy, tb, remaining, id);
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, id));
            }
        }
        let Some((_, id)) = best else { return };
        let level = self.data_level(&self.flows[id.idx()]);
        let f = &mut self.flows[id.idx()];
        let (seq, aux, expiry) = match f.tokens.pop_front() {
            Some((seq, exp, k)) => {
                // Already sent (the token was re-issued for a late packet):
                // send new data instead while there is any.
                let seq = if bit(&f.sent_bits, seq) && f.unsent_from < f.total {
                    f.unsent_from
                } else {
                    seq
                };
                (seq, k + 1, exp)
            }
            None => {
                f.free_left -= 1;
                (f.unsent_from, DATA_FREE, Picos::ZERO)
            }
        };
        let retx = bit(&f.sent_bits, seq);
        set(&mut f.sent_bits, seq);
        while f.unsent_from < f.total && bit(&f.sent_bits, f.unsent_from) {
            f.unsent_from += 1;
        }
        f.sent += 1;
        let slot = self.tenant_slot(w, host, id);
        let pkt = w.data_packet(id, seq);
        let p = w.packets.get_mut(pkt);
        p.priority = level;
        p.aux = aux;
        p.ts_echo = expiry;
        p.retransmit = retx;
        let payload = (p.wire_bytes - w.net.params.header) as u64;
        self.src_tenant_bytes[slot] += payload;
        if retx {
            w.note_retransmit(id);
        }
        w.send(pkt);
    }

    fn on_token(&mut self, w: &mut World, host: HostId, id: FlowId, seq: u32, k: u32) {
        let free = self.free;
        let f = &mut self.flows[id.idx()];
        if f.src_done {
            return;
        }
        f.heard = true;
        if seq < free.min(f.total) {
            // The destination wrote off the free packets still pending and
            // grants them one by one now.
            f.free_left = 0;
        }
        f.tokens.push_back((seq, w.now + self.expiry, k));
        if w.nic_idle(host) {
            self.pull(w, host);
        }
    }

    fn on_final_ack(&mut self, host: HostId, id: FlowId) {
        let f = &mut self.flows[id.idx()];
        if f.src_done {
            return;
        }
        f.src_done = true;
        f.tokens = VecDeque::new();
        f.sent_bits = Vec::new();
        f.free_left = 0;
        let list = &mut self.src_active[host.idx()];
        if let Some(i) = list.iter().position(|&x| x == id) {
            list.swap_remove(i);
        }
    }

    fn on_rts_timer(&mut self, w: &mut World, id: FlowId) {
        let f = &mut self.flows[id.idx()];
        if f.src_done || f.heard {
            return;
        }
        if f.free_left == 0 || f.unsent_from >= f.total {
            let (src, dst) = (w.flow(id).src, w.flow(id).dst);
            f.rts_backoff = (f.rts_backoff + 1).min(6);
            let total = f.total;
            w.send_control(
                id,
                src,
                dst,
                PacketKind::Control,
                CTRL_RTS << CTRL_SHIFT,
                total,
            );
        }
        let f = &self.flows[id.idx()];
        w.timer(w.now + self.rto.mul(2 << f.rts_backoff), T_RTS, id.0);
    }

    // ------------------------------------------------------- destination

    /// First news of a flow at its destination (its RTS or any data packet).
    fn learn(&mut self, w: &mut World, host: HostId, id: FlowId) {
        let total = w.params().packets_for(w.flow(id).size);
        let free = self.free.min(total);
        let f = &mut self.flows[id.idx()];
        f.known = true;
        f.total = total;
        f.state = vec![NEED; total as usize];
        for s in &mut f.state[..free as usize] {
            *s = FREE_PENDING;
        }
        f.free_pending = free;
        f.next_new = free;
        f.last_sign = w.now;
        f.dst_timer = NO_TIMER;
        self.dst_active[host.idx()].push(id);
        self.arm_dst(w, id);
        self.kick(w, host);
    }

    fn eligible(bdp: u32, f: &mut Flow, now: Picos) -> bool {
        !f.dst_done && f.n_out < bdp && f.downgraded_until <= now && f.grantable()
    }

    /// Make sure the destination's token pacer is running.
    fn kick(&mut self, w: &mut World, host: HostId) {
        if !self.pacer_armed[host.idx()] {
            self.pacer_armed[host.idx()] = true;
            let at = self.next_grant[host.idx()].max(w.now);
            w.timer(at, T_PACER, host.0);
        }
    }

    /// The pacer: grant one token if any flow is eligible.
    fn on_pacer(&mut self, w: &mut World, host: HostId) {
        self.pacer_armed[host.idx()] = false;
        let now = w.now;
        let mut best: Option<((u64, u64, u32), FlowId)> = None;
        for i in 0..self.dst_active[host.idx()].len() {
            let id = self.dst_active[host.idx()][i];
            let f = &mut self.flows[id.idx()];
            if !Self::eligible(self.bdp, f, now) {
                continue;
            }
            let remaining = f.total - f.rcv_count;
            let tb = self.dst_tenant_bytes[self.tenant_slot(w, host, id)];
            let key = self.key(w, self.dst_policy, tb, remaining, id);
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, id));
            }
        }
        let Some((_, id)) = best else { return };
        let f = &mut self.flows[id.idx()];
        // `eligible` left both queues clean: the front is grantable.
        let seq = match f.regrant.pop_front() {
            Some(s) => s,
            None => {
                f.next_new += 1;
                f.next_new - 1
            }
        };
        debug_assert_eq!(f.state[seq as usize], NEED);
        f.state[seq as usize] = GRANTED;
        let k = f.base_k + f.out.len() as u32;
        f.out.push_back(Token {
            seq,
            deadline: now + self.rto,
            answered: false,
        });
        f.n_out += 1;
        let src = w.flow(id).src;
        w.send_control(
            id,
            host,
            src,
            PacketKind::Control,
            (CTRL_TOKEN << CTRL_SHIFT) | (k & NUMBER_MASK),
            seq,
        );
        self.arm_dst(w, id);
        self.next_grant[host.idx()] = now + self.mtu_time;
        self.pacer_armed[host.idx()] = true;
        w.timer(now + self.mtu_time, T_PACER, host.0);
    }

    /// When the destination must next look at a flow: the oldest token's
    /// write-off, the free packets' write-off, or the end of a downgrade.
    fn arm_dst(&mut self, w: &mut World, id: FlowId) {
        let now = w.now;
        let f = &mut self.flows[id.idx()];
        if f.dst_done {
            return;
        }
        let mut at = NO_TIMER;
        if let Some(t) = f.out.front() {
            at = at.min(t.deadline);
        }
        if f.free_pending > 0 {
            at = at.min(f.last_sign + self.rto);
        }
        if f.downgraded_until > now {
            at = at.min(f.downgraded_until);
        }
        if at < f.dst_timer {
            f.dst_timer = at.max(now);
            w.timer(f.dst_timer, T_DST, id.0);
        }
    }

    fn on_dst_timer(&mut self, w: &mut World, id: FlowId) {
        let now = w.now;
        let f = &mut self.flows[id.idx()];
        if f.dst_timer != now || f.dst_done {
            return; // superseded by an earlier event
        }
        f.dst_timer = NO_TIMER;
        // Write off tokens not answered in time.
        while let Some(t) = f.out.front() {
            if t.deadline > now && !t.answered {
                break;
            }
            let t = f.out.pop_front().unwrap();
            f.base_k += 1;
            if t.answered {
                continue;
            }
            f.n_out -= 1;
            if f.state[t.seq as usize] == GRANTED {
                f.state[t.seq as usize] = NEED;
                f.regrant.push_back(t.seq);
            }
            if now - f.waste_since > self.waste_window {
                f.wasted = 0;
                f.waste_since = now;
            }
            f.wasted += 1;
            if f.wasted >= self.bdp {
                f.wasted = 0;
                f.downgraded_until = now + self.downgrade;
            }
        }
        // Free packets overdue: grant them one by one.
        if f.free_pending > 0 && now >= f.last_sign + self.rto {
            for seq in 0..f.state.len().min(self.free as usize) {
                if f.state[seq] == FREE_PENDING {
                    f.state[seq] = NEED;
                    f.regrant.push_back(seq as u32);
                }
            }
            f.free_pending = 0;
        }
        let dst = w.flow(id).dst;
        self.arm_dst(w, id);
        if Self::eligible(self.bdp, &mut self.flows[id.idx()], now) {
            self.kick(w, dst);
        }
    }

    fn on_data(&mut self, w: &mut World, host: HostId, pkt: PacketId) {
        let (id, seq, aux, payload) = {
            let p = w.packets.get(pkt);
            (
                p.flow,
                p.seq,
                p.aux,
                (p.wire_bytes - w.net.params.header) as u64,
            )
        };
        w.packets.free(pkt);
        if !self.flows[id.idx()].known {
            self.learn(w, host, id);
        }
        let src = w.flow(id).src;
        let slot = self.tenant_slot(w, host, id);
        let f = &mut self.flows[id.idx()];
        if f.dst_done {
            w.send_control(id, host, src, PacketKind::Ack, 0, f.total);
            return;
        }
        f.last_sign = w.now;
        if aux != DATA_FREE {
            // Retire the token it answers (unless already written off).
            let k = aux - 1;
            if k >= f.base_k && ((k - f.base_k) as usize) < f.out.len() {
                let t = &mut f.out[(k - f.base_k) as usize];
                if !t.answered {
                    t.answered = true;
                    f.n_out -= 1;
                    // Answered with other data: the packet it asked for is
                    // still wanted.
                    let asked = t.seq;
                    if asked != seq && f.state[asked as usize] == GRANTED {
                        f.state[asked as usize] = NEED;
                        f.regrant.push_back(asked);
                    }
                }
            }
            while matches!(f.out.front(), Some(t) if t.answered) {
                f.out.pop_front();
                f.base_k += 1;
            }
        }
        match f.state[seq as usize] {
            RECEIVED => {
                self.arm_dst(w, id);
                if Self::eligible(self.bdp, &mut self.flows[id.idx()], w.now) {
                    self.kick(w, host);
                }
                return;
            }
            FREE_PENDING => f.free_pending -= 1,
            _ => {}
        }
        f.state[seq as usize] = RECEIVED;
        f.rcv_count += 1;
        self.dst_tenant_bytes[slot] += payload;
        if f.rcv_count == f.total {
            f.dst_done = true;
            f.state = Vec::new();
            f.out = VecDeque::new();
            f.regrant = VecDeque::new();
            let total = f.total;
            w.complete(id);
            let list = &mut self.dst_active[host.idx()];
            if let Some(i) = list.iter().position(|&x| x == id) {
                list.swap_remove(i);
            }
            w.send_control(id, host, src, PacketKind::Ack, 0, total);
            return;
        }
        self.arm_dst(w, id);
        if Self::eligible(self.bdp, &mut self.flows[id.idx()], w.now) {
            self.kick(w, host);
        }
    }
}

impl Transport for PHost {
    fn on_flow_arrival(&mut self, w: &mut World, id: FlowId) {
        if self.tenants == 0 {
            self.tenants = w.flows.iter().map(|f| f.tenant).max().unwrap_or(0) + 1;
            let n = w.params().hosts as usize * self.tenants as usize;
            self.src_tenant_bytes = vec![0; n];
            self.dst_tenant_bytes = vec![0; n];
        }
        let (src, dst) = (w.flow(id).src, w.flow(id).dst);
        let total = w.params().packets_for(w.flow(id).size);
        let f = &mut self.flows[id.idx()];
        f.total = total;
        f.free_left = self.free.min(total);
        f.sent_bits = vec![0u64; (total as usize).div_ceil(64)];
        f.dst_timer = NO_TIMER;
        self.src_active[src.idx()].push(id);
        w.send_control(
            id,
            src,
            dst,
            PacketKind::Control,
            CTRL_RTS << CTRL_SHIFT,
            total,
        );
        w.timer(w.now + self.rto.mul(2), T_RTS, id.0);
        if w.nic_idle(src) {
            self.pull(w, src);
        }
    }

    fn on_packet(&mut self, w: &mut World, host: HostId, pkt: PacketId) {
        let (kind, aux, id, seq) = {
            let p = w.packets.get(pkt);
            (p.kind, p.aux, p.flow, p.seq)
        };
        match kind {
            PacketKind::Data => self.on_data(w, host, pkt),
            PacketKind::Ack => {
                w.packets.free(pkt);
                self.on_final_ack(host, id);
            }
            PacketKind::Control => {
                w.packets.free(pkt);
                match aux >> CTRL_SHIFT {
                    CTRL_RTS => {
                        let f = &self.flows[id.idx()];
                        if !f.known {
                            self.learn(w, host, id);
                        } else if f.dst_done {
                            let src = w.flow(id).src;
                            w.send_control(id, host, src, PacketKind::Ack, 0, f.total);
                        }
                    }
                    CTRL_TOKEN => self.on_token(w, host, id, seq, aux & NUMBER_MASK),
                    _ => {}
                }
            }
        }
    }

    fn on_timer(&mut self, w: &mut World, a: u32, b: u32) {
        match a {
            T_PACER => self.on_pacer(w, HostId(b)),
            T_DST => self.on_dst_timer(w, FlowId(b)),
            T_RTS => self.on_rts_timer(w, FlowId(b)),
            _ => unreachable!("unknown pHost timer {a}"),
        }
    }

    fn on_nic_idle(&mut self, w: &mut World, host: HostId) {
        self.pull(w, host);
    }
}
