//! TCP (NewReno or SACK) and DCTCP, packet-counted.
//!
//! Sender: slow start from `init_window` packets (default 2), congestion
//! avoidance (+1 packet per window), fast retransmit on 3 duplicate acks, and
//! a retransmission timeout of max(min_rto, srtt + 4 rttvar) (default minimum
//! 45 us, as in the disaggregation study) with exponential backoff. RTT
//! samples echo the time the data packet was handed to the NIC (like the
//! timestamp option), so they stay valid for retransmissions and include the
//! time spent in the host's own queue.
//!
//! Loss recovery is SACK-based by default (`transport.sack = true`), in the
//! spirit of RFC 6675: every ack names the data packet that triggered it (the
//! first SACK block of a real receiver, exact here since every packet is
//! acked), the sender keeps a scoreboard of what the receiver holds, deems a
//! hole lost once 3 packets above it are held, and during recovery sends
//! while its estimate of packets in the network ("pipe") is below the halved
//! window: lost holes first, then new data. After a timeout it goes back to
//! the first unacknowledged packet but skips what the receiver already
//! holds. With `sack = false` recovery is NewReno's (window inflation, one
//! hole per round trip on partial acks, go-back-N after a timeout).
//!
//! Receiver: by default one cumulative ack per data packet, with an
//! out-of-order bitmap allocated only for flows that see reordering or loss.
//! A flow completes when its receiver holds every byte.
//!
//! Delayed acks (`transport.delayed_ack = TIMEOUT`, off by default), as in
//! RFC 1122 / RFC 5681: an in-order packet is acknowledged together with the
//! next one, or when TIMEOUT has passed since it arrived. A packet that is out
//! of order, fills (part of) a gap, or completes the flow is acknowledged at
//! once, after the pending ack (if any) is sent. The ack echoes the hand-off
//! time of the earliest packet it covers (RFC 7323), so RTT samples include
//! the delay. Under DCTCP the receiver keeps the paper's two-state machine: a
//! packet whose CE mark differs from the pending one's first flushes the
//! pending ack with the old mark, so every ack's ECE bit holds for all the
//! packets it covers and the sender's marked fraction stays exact.
//!
//! DCTCP (Alizadeh et al., SIGCOMM 2010): switches mark CE above K packets,
//! the receiver echoes each packet's mark (exact, since every packet is
//! acked), the sender keeps alpha <- (1 - g) alpha + g F once per window of
//! data (F the marked fraction) and cuts the window by alpha / 2 at most once
//! per window when it sees an echo. Loss is handled as in TCP.
//!
//! The retransmission timer is lazy: re-arming it only moves a deadline; the
//! single pending timer event re-schedules itself when it fires early, so an
//! ack costs no event. When the deadline moves earlier, a new event is
//! scheduled only if the pending one would fire more than min_rto / 4 late:
//! that is the timer's resolution.

use crate::ids::{FlowId, HostId};
use crate::packet::{PacketId, PacketKind};
use crate::scenario::Scenario;
use crate::transport::bitmap::{bit, count as count_bits, set as set_bit};
use crate::transport::Transport;
use crate::units::Picos;
use crate::world::World;

const NO_TIMER: Picos = Picos::MAX;
const MAX_BACKOFF: u32 = 6;
/// Packets held above a hole before it is deemed lost (RFC 6675's DupThresh).
const DUP_THRESH: u32 = 3;

#[derive(Clone, Debug, Default)]
struct Flow {
    total: u32,
    // --- sender
    una: u32,
    nxt: u32,
    /// Highest sequence ever sent + 1 (anything below is a retransmission).
    high: u32,
    cwnd: f64,
    ssthresh: f64,
    dupacks: u32,
    in_recovery: bool,
    recover: u32,
    srtt: Option<Picos>,
    rttvar: Picos,
    backoff: u32,
    deadline: Picos,
    timer_event: Picos,
    // --- SACK scoreboard (allocated on the first out-of-order ack)
    sacked: Vec<u64>,
    /// Sacked packets at or above `una`, and at or above `nxt`.
    sacked_cnt: u32,
    sacked_above_nxt: u32,
    /// 1 + the highest sacked sequence (0: none).
    high_sacked: u32,
    /// Next hole that recovery may retransmit.
    retx_next: u32,
    // --- DCTCP
    alpha: f64,
    window_end: u32,
    acked_in_window: u32,
    marked_in_window: u32,
    cut_until: u32,
    // --- receiver
    rcv_next: u32,
    ooo: Vec<u64>,
    /// Packets held above `rcv_next` (bits set in `ooo`): a gap is open.
    held_above: u32,
    /// Delayed ack: an in-order packet not yet acknowledged, with its
    /// sequence number, CE mark, echoed hand-off time and ack deadline.
    dack_pending: bool,
    dack_seq: u32,
    dack_ce: bool,
    dack_echo: Picos,
    dack_deadline: Picos,
    /// A delayed-ack timer event is outstanding.
    dack_timer: bool,
}

impl Flow {
    fn is_sacked(&self, seq: u32) -> bool {
        !self.sacked.is_empty() && bit(&self.sacked, seq)
    }

    /// Packets sent and neither acknowledged nor held by the receiver.
    fn outstanding(&self) -> u32 {
        (self.nxt - self.una) - (self.sacked_cnt - self.sacked_above_nxt)
    }

    /// Holes in [retx_next, high_sacked - DUP_THRESH) below `nxt`: deemed lost and
    /// not yet retransmitted in this recovery.
    fn lost_not_retransmitted(&self) -> u32 {
        let end = self.high_sacked.saturating_sub(DUP_THRESH).min(self.nxt);
        let start = self.retx_next.max(self.una);
        if end <= start {
            return 0;
        }
        (end - start) - count_bits(&self.sacked, start, end)
    }

    /// The next lost hole to retransmit, if any.
    fn next_hole(&self) -> Option<u32> {
        let end = self.high_sacked.saturating_sub(DUP_THRESH).min(self.nxt);
        (self.retx_next.max(self.una)..end).find(|&s| !self.is_sacked(s))
    }
}

pub struct Tcp {
    dctcp: bool,
    sack: bool,
    init_window: f64,
    min_rto: Picos,
    g: f64,
    ack_priority: bool,
    /// Delayed-ack timeout (None: ack every packet at once).
    delayed_ack: Option<Picos>,
    flows: Vec<Flow>,
}

/// Timer kinds (the second word of a transport timer).
const RTO_TIMER: u32 = 0;
const DACK_TIMER: u32 = 1;

impl Tcp {
    pub fn new(sc: &Scenario, flows: usize, dctcp: bool) -> Tcp {
        Tcp {
            dctcp,
            sack: sc.transport.sack,
            init_window: sc.transport.init_window.unwrap_or(2) as f64,
            min_rto: sc
                .transport
                .min_rto
                .map(|d| d.0)
                .unwrap_or(Picos::from_us(45)),
            g: sc.transport.dctcp_g,
            ack_priority: sc.transport.ack_priority,
            delayed_ack: sc
                .transport
                .delayed_ack
                .map(|d| d.0)
                .filter(|&d| d > Picos::ZERO),
            flows: vec![Flow::default(); flows],
        }
    }

    fn rto(&self, f: &Flow) -> Picos {
        let base = match f.srtt {
            Some(srtt) => (srtt + f.rttvar.mul(4)).max(self.min_rto),
            None => self.min_rto,
        };
        base.mul(1 << f.backoff.min(MAX_BACKOFF))
    }

    fn arm_timer(&mut self, w: &mut World, id: FlowId) {
        let rto = self.rto(&self.flows[id.idx()]);
        let f = &mut self.flows[id.idx()];
        f.deadline = w.now + rto;
        // The pending event may fire up to `slack` after the deadline rather
        // than scheduling a new event each time the estimate shrinks a little:
        // the timer's resolution is a quarter of the minimum RTO.
        let slack = Picos(self.min_rto.0 / 4);
        if f.timer_event == NO_TIMER || f.deadline + slack < f.timer_event {
            f.timer_event = f.deadline;
            w.timer(f.deadline, id.0, RTO_TIMER);
        }
    }

    /// Send what the window allows: in SACK recovery lost holes first, then
    /// new (or, after a timeout, not yet held) data.
    fn push(&mut self, w: &mut World, id: FlowId) {
        let sack = self.sack;
        loop {
            let f = &mut self.flows[id.idx()];
            // `as` truncates (and maps NaN and negatives to 0): floor without a libm call.
            let window = (f.cwnd as u32).max(1);
            let pipe = if sack && f.in_recovery {
                f.outstanding() - f.lost_not_retransmitted().min(f.outstanding())
            } else {
                f.outstanding()
            };
            if pipe >= window {
                break;
            }
            if sack && f.in_recovery {
                if let Some(hole) = f.next_hole() {
                    f.retx_next = hole + 1;
                    self.send_data(w, id, hole, true);
                    continue;
                }
            }
            // Skip what the receiver already holds (after a timeout).
            while f.nxt < f.total && f.is_sacked(f.nxt) {
                f.nxt += 1;
                f.sacked_above_nxt -= 1;
            }
            if f.nxt >= f.total {
                break;
            }
            let seq = f.nxt;
            f.nxt += 1;
            let retx = seq < f.high;
            if !retx {
                f.high = seq + 1;
            }
            self.send_data(w, id, seq, retx);
        }
    }

    fn send_data(&mut self, w: &mut World, id: FlowId, seq: u32, retx: bool) {
        let pkt = w.data_packet(id, seq);
        if retx {
            w.packets.get_mut(pkt).retransmit = true;
            w.note_retransmit(id);
        }
        let p = w.packets.get_mut(pkt);
        // Data at the lower priority when queues have levels, so acks pass.
        p.priority = 1;
        // The time the sender handed it to its NIC, echoed back by the ack:
        // RTT samples then include the NIC queue, as the retransmission
        // timer (armed at hand-off) does.
        p.ts_echo = w.now;
        w.send(pkt);
    }

    fn on_data(&mut self, w: &mut World, host: HostId, pkt: PacketId) {
        let (id, seq, ce, sent_at) = {
            let p = w.packets.get(pkt);
            (p.flow, p.seq, p.ce, p.ts_echo)
        };
        w.packets.free(pkt);
        let (dctcp, delayed_ack, now) = (self.dctcp, self.delayed_ack, w.now);
        let f = &mut self.flows[id.idx()];
        let before = f.rcv_next;
        let gap_was_open = f.held_above > 0;
        if seq == f.rcv_next {
            f.rcv_next += 1;
            // Pull in anything buffered out of order.
            while f.held_above > 0 && f.rcv_next < f.total && bit(&f.ooo, f.rcv_next) {
                f.rcv_next += 1;
                f.held_above -= 1;
            }
        } else if seq > f.rcv_next {
            if f.ooo.is_empty() {
                f.ooo = vec![0u64; (f.total as usize).div_ceil(64)];
            }
            if !bit(&f.ooo, seq) {
                set_bit(&mut f.ooo, seq);
                f.held_above += 1;
            }
        }
        let ack_no = f.rcv_next;
        let done = f.rcv_next >= f.total;
        if done {
            f.ooo = Vec::new();
            f.held_above = 0;
            w.complete(id);
        }
        if let Some(timeout) = delayed_ack {
            let f = &mut self.flows[id.idx()];
            let in_order = seq == before && !gap_was_open && !done;
            if f.dack_pending && !(in_order && (!dctcp || f.dack_ce == ce)) {
                // Send what is pending before acting on this packet.
                let (held, mark, echo) = (f.dack_seq, f.dack_ce, f.dack_echo);
                f.dack_pending = false;
                self.send_ack(w, host, id, before, held, mark, echo);
            }
            let f = &mut self.flows[id.idx()];
            if in_order {
                if f.dack_pending {
                    // The second in-order packet: one ack for both.
                    f.dack_pending = false;
                    let echo = f.dack_echo;
                    self.send_ack(w, host, id, ack_no, seq, ce, echo);
                } else {
                    f.dack_pending = true;
                    f.dack_seq = seq;
                    f.dack_ce = ce;
                    f.dack_echo = sent_at;
                    f.dack_deadline = now + timeout;
                    if !f.dack_timer {
                        f.dack_timer = true;
                        w.timer(f.dack_deadline, id.0, DACK_TIMER);
                    }
                }
                return;
            }
        }
        self.send_ack(w, host, id, ack_no, seq, ce, sent_at);
    }

    /// Acknowledge up to `ack_no` (cumulative), naming packet `held` (the
    /// first SACK block), with the ECN echo and the echoed hand-off time.
    #[allow(clippy::too_many_arguments)]
    fn send_ack(
        &self,
        w: &mut World,
        host: HostId,
        id: FlowId,
        ack_no: u32,
        held: u32,
        ece: bool,
        echo: Picos,
    ) {
        let src = w.flow(id).src;
        let ack = w.control_packet(id, host, src, PacketKind::Ack);
        let p = w.packets.get_mut(ack);
        p.seq = ack_no;
        p.aux = held;
        p.ece = ece;
        p.ts_echo = echo;
        p.priority = if self.ack_priority { 0 } else { 1 };
        w.send(ack);
    }

    /// The delayed-ack timer: send the pending ack if its deadline has come
    /// (a pending ack begun after this event was scheduled has a later one).
    fn on_delayed_ack_timer(&mut self, w: &mut World, id: FlowId) {
        let f = &mut self.flows[id.idx()];
        f.dack_timer = false;
        if !f.dack_pending {
            return;
        }
        if f.dack_deadline > w.now {
            f.dack_timer = true;
            w.timer(f.dack_deadline, id.0, DACK_TIMER);
            return;
        }
        f.dack_pending = false;
        let (ack_no, held, ece, echo) = (f.rcv_next, f.dack_seq, f.dack_ce, f.dack_echo);
        let host = w.flow(id).dst;
        self.send_ack(w, host, id, ack_no, held, ece, echo);
    }

    fn on_ack(&mut self, w: &mut World, pkt: PacketId) {
        let (id, ack, held, ece, echo) = {
            let p = w.packets.get(pkt);
            (p.flow, p.seq, p.aux, p.ece, p.ts_echo)
        };
        w.packets.free(pkt);
        let now = w.now;
        let (dctcp, sack, g) = (self.dctcp, self.sack, self.g);
        let f = &mut self.flows[id.idx()];
        if f.una >= f.total {
            return; // sender already done
        }
        // The scoreboard: the packet that triggered this ack is held above the
        // cumulative point.
        if sack && held >= ack && held < f.total && !f.is_sacked(held) {
            if f.sacked.is_empty() {
                f.sacked = vec![0u64; (f.total as usize).div_ceil(64)];
            }
            set_bit(&mut f.sacked, held);
            f.sacked_cnt += 1;
            if held >= f.nxt {
                f.sacked_above_nxt += 1;
            }
            f.high_sacked = f.high_sacked.max(held + 1);
        }
        if ack > f.una {
            let newly = ack - f.una;
            if !f.sacked.is_empty() {
                let cleared = count_bits(&f.sacked, f.una, ack);
                f.sacked_cnt -= cleared;
            }
            f.una = ack;
            if f.nxt < f.una {
                // After going back, the ack jumped past what was resent.
                f.nxt = f.una;
                f.sacked_above_nxt = f.sacked_cnt;
            }
            f.retx_next = f.retx_next.max(f.una);
            // RTT estimate (RFC 6298), from the echoed hand-off time.
            let sample = now - echo;
            match f.srtt {
                None => {
                    f.srtt = Some(sample);
                    f.rttvar = Picos(sample.0 / 2);
                }
                Some(srtt) => {
                    let err = srtt.0.abs_diff(sample.0);
                    f.rttvar = Picos((3 * f.rttvar.0 + err) / 4);
                    f.srtt = Some(Picos((7 * srtt.0 + sample.0) / 8));
                }
            }
            f.backoff = 0;
            if dctcp {
                f.acked_in_window += newly;
                if ece {
                    f.marked_in_window += newly;
                }
                if f.una >= f.window_end {
                    let frac = f.marked_in_window as f64 / f.acked_in_window.max(1) as f64;
                    f.alpha = (1.0 - g) * f.alpha + g * frac;
                    f.window_end = f.nxt;
                    f.acked_in_window = 0;
                    f.marked_in_window = 0;
                }
            }
            if f.in_recovery {
                if f.una >= f.recover {
                    f.in_recovery = false;
                    f.cwnd = f.ssthresh;
                    f.dupacks = 0;
                } else if !sack {
                    // NewReno partial ack: the next hole is lost too.
                    f.cwnd = (f.cwnd - newly as f64 + 1.0).max(1.0);
                    let seq = f.una;
                    self.send_data(w, id, seq, true);
                }
            } else {
                f.dupacks = 0;
                if f.cwnd < f.ssthresh {
                    f.cwnd += newly as f64;
                } else {
                    f.cwnd += newly as f64 / f.cwnd;
                }
            }
            let f = &mut self.flows[id.idx()];
            if dctcp && ece && f.una > f.cut_until {
                f.cwnd = (f.cwnd * (1.0 - f.alpha / 2.0)).max(1.0);
                f.ssthresh = f.cwnd;
                f.cut_until = f.nxt;
            }
            if f.una >= f.total {
                f.deadline = NO_TIMER;
                return;
            }
            self.arm_timer(w, id);
        } else if ack == f.una && f.nxt > f.una {
            f.dupacks += 1;
            let sack_loss = sack && f.high_sacked >= f.una + 1 + DUP_THRESH;
            if f.in_recovery {
                if !sack {
                    f.cwnd += 1.0; // NewReno window inflation
                }
            } else if f.dupacks == DUP_THRESH || sack_loss {
                let flight = f.outstanding() as f64;
                f.ssthresh = (flight / 2.0).max(2.0);
                f.in_recovery = true;
                f.recover = f.nxt;
                f.cut_until = f.nxt;
                f.retx_next = f.una;
                w.metrics.fast_retransmits += 1;
                if sack {
                    f.cwnd = f.ssthresh;
                } else {
                    f.cwnd = f.ssthresh + DUP_THRESH as f64;
                    let seq = f.una;
                    f.retx_next = seq + 1;
                    self.send_data(w, id, seq, true);
                }
            }
        }
        self.push(w, id);
    }

    fn on_timeout(&mut self, w: &mut World, id: FlowId) {
        let f = &mut self.flows[id.idx()];
        f.timer_event = NO_TIMER;
        if f.una >= f.total || f.deadline == NO_TIMER {
            return;
        }
        if f.deadline > w.now {
            // Re-armed since this event was scheduled: sleep until the deadline.
            f.timer_event = f.deadline;
            w.timer(f.deadline, id.0, RTO_TIMER);
            return;
        }
        w.metrics.timeouts += 1;
        let flight = f.outstanding() as f64;
        f.ssthresh = (flight / 2.0).max(2.0);
        f.cwnd = 1.0;
        f.nxt = f.una; // go back, skipping what the receiver holds
        f.sacked_above_nxt = f.sacked_cnt;
        f.retx_next = f.una;
        f.in_recovery = false;
        f.dupacks = 0;
        f.backoff += 1;
        f.cut_until = f.una;
        self.arm_timer(w, id);
        self.push(w, id);
    }
}

impl Transport for Tcp {
    fn on_flow_arrival(&mut self, w: &mut World, id: FlowId) {
        let total = w.params().packets_for(w.flow(id).size);
        let f = &mut self.flows[id.idx()];
        f.total = total;
        f.cwnd = self.init_window;
        f.ssthresh = f64::INFINITY;
        f.timer_event = NO_TIMER;
        f.deadline = NO_TIMER;
        f.alpha = if self.dctcp { 1.0 } else { 0.0 };
        self.push(w, id);
        self.arm_timer(w, id);
    }

    fn on_packet(&mut self, w: &mut World, host: HostId, pkt: PacketId) {
        match w.packets.get(pkt).kind {
            PacketKind::Data => self.on_data(w, host, pkt),
            PacketKind::Ack => self.on_ack(w, pkt),
            PacketKind::Control => w.packets.free(pkt),
        }
    }

    fn on_timer(&mut self, w: &mut World, a: u32, b: u32) {
        match b {
            DACK_TIMER => self.on_delayed_ack_timer(w, FlowId(a)),
            _ => self.on_timeout(w, FlowId(a)),
        }
    }
}
