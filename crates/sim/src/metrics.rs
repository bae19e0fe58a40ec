//! What a run measures while it runs (drops by hop, pending bytes and
//! per-tenant delivered bytes over time) and the summary computed from the
//! per-flow records when it ends.

use crate::flow::{FlowOutcome, FlowSpec};
use crate::topology::Hop;
use crate::units::Picos;

#[derive(Default, Clone, Debug)]
pub struct Metrics {
    pub drops_by_hop: [u64; 6],
    /// Packets lost by fault injection (not by any queue).
    pub injected_losses: u64,
    /// Retransmission timeouts that fired (transports count them).
    pub timeouts: u64,
    /// Fast retransmissions (transports count them).
    pub fast_retransmits: u64,
    /// Payload bytes of flows that have arrived at their sources.
    pub arrived_bytes: u64,
    /// Payload bytes sent for the first time by source NICs.
    pub injected_bytes: u64,
    /// (time, arrived - injected): bytes waiting at sources.
    pub pending: Vec<(Picos, u64)>,
    /// Payload bytes of data packets that reached their destination host, per
    /// tenant (retransmitted copies included: this is throughput, measured
    /// where it is delivered, whether or not the flow ever completes).
    pub tenant_delivered: Vec<u64>,
    /// (time, tenant, `tenant_delivered` of that tenant so far), sampled with
    /// `pending`.
    pub tenant_series: Vec<(Picos, u32, u64)>,
}

impl Metrics {
    #[inline]
    pub fn note_drop(&mut self, hop: Hop) {
        self.drops_by_hop[hop as usize] += 1;
    }

    /// Record one sample of the time series.
    pub fn sample(&mut self, now: Picos) {
        self.pending
            .push((now, self.arrived_bytes.saturating_sub(self.injected_bytes)));
        for (t, &b) in self.tenant_delivered.iter().enumerate() {
            self.tenant_series.push((now, t as u32, b));
        }
    }

    /// A data packet with `payload` bytes of a flow of `tenant` reached its
    /// destination.
    #[inline]
    pub fn note_delivered(&mut self, tenant: u32, payload: u64) {
        self.tenant_delivered[tenant as usize] += payload;
    }
}

/// One row of the per-flow table.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRecord {
    pub id: u32,
    pub src: u32,
    pub dst: u32,
    pub size: u64,
    pub start: Picos,
    pub finish: Option<Picos>,
    pub fct: Option<Picos>,
    pub opt: Picos,
    /// FCT / OPT (NaN for unfinished flows).
    pub slowdown: f64,
    pub retransmits: u32,
    pub drops: u32,
    pub tenant: u32,
    pub deadline: Option<Picos>,
}

impl FlowRecord {
    pub fn new(id: u32, spec: &FlowSpec, out: &FlowOutcome, opt: Picos) -> FlowRecord {
        let fct = out.finish.map(|f| f - spec.start);
        FlowRecord {
            id,
            src: spec.src.0,
            dst: spec.dst.0,
            size: spec.size,
            start: spec.start,
            finish: out.finish,
            fct,
            opt,
            slowdown: fct.map_or(f64::NAN, |f| f.0 as f64 / opt.0 as f64),
            retransmits: out.retransmits,
            drops: out.drops,
            tenant: spec.tenant,
            deadline: spec.deadline,
        }
    }

    pub fn met_deadline(&self) -> Option<bool> {
        let d = self.deadline?;
        Some(matches!(self.fct, Some(f) if f <= d))
    }
}

/// Slowdown statistics of a set of flows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlowdownStats {
    pub count: u64,
    pub completed: u64,
    pub mean: f64,
    pub median: f64,
    pub p99: f64,
    pub p999: f64,
    /// Mean FCT over mean OPT.
    pub normalized_fct: f64,
    pub mean_fct_us: f64,
}

/// The `q`-quantile of sorted values, by the nearest-rank method (a value of
/// the data, so quantiles never interpolate between flows).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl SlowdownStats {
    pub fn of<'a>(records: impl Iterator<Item = &'a FlowRecord>) -> SlowdownStats {
        let mut s = Vec::new();
        let mut count = 0u64;
        let (mut fct_sum, mut opt_sum) = (0f64, 0f64);
        for r in records {
            count += 1;
            if let Some(f) = r.fct {
                s.push(r.slowdown);
                fct_sum += f.0 as f64;
                opt_sum += r.opt.0 as f64;
            }
        }
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = s.len();
        SlowdownStats {
            count,
            completed: n as u64,
            mean: if n == 0 {
                f64::NAN
            } else {
                s.iter().sum::<f64>() / n as f64
            },
            median: quantile(&s, 0.5),
            p99: quantile(&s, 0.99),
            p999: quantile(&s, 0.999),
            normalized_fct: if opt_sum > 0.0 {
                fct_sum / opt_sum
            } else {
                f64::NAN
            },
            mean_fct_us: if n == 0 {
                f64::NAN
            } else {
                fct_sum / n as f64 / 1e6
            },
        }
    }
}

/// The summary of a run.
#[derive(Clone, Debug)]
pub struct Summary {
    pub all: SlowdownStats,
    pub short: SlowdownStats,
    pub medium: SlowdownStats,
    pub long: SlowdownStats,
    /// Delivered payload bits over the time from first arrival to last finish.
    pub throughput_gbps: f64,
    pub drops_by_hop: Vec<(&'static str, u64)>,
    pub drops: u64,
    pub retransmissions: u64,
    pub timeouts: u64,
    pub fast_retransmits: u64,
    /// Fraction of flows with deadlines that met them (NaN if none had one).
    pub deadlines_met: f64,
}

impl Summary {
    pub fn compute(
        records: &[FlowRecord],
        metrics: &Metrics,
        hops: &[Hop],
        short_below: u64,
        long_above: u64,
    ) -> Summary {
        let all = SlowdownStats::of(records.iter());
        let short = SlowdownStats::of(records.iter().filter(|r| r.size < short_below));
        let long = SlowdownStats::of(records.iter().filter(|r| r.size > long_above));
        let medium = SlowdownStats::of(
            records
                .iter()
                .filter(|r| r.size >= short_below && r.size <= long_above),
        );
        let first = records.iter().map(|r| r.start).min().unwrap_or(Picos::ZERO);
        let last = records
            .iter()
            .filter_map(|r| r.finish)
            .max()
            .unwrap_or(first);
        let delivered: u64 = records
            .iter()
            .filter(|r| r.finish.is_some())
            .map(|r| r.size)
            .sum();
        let span = (last - first).0 as f64 / 1e12;
        let throughput_gbps = if span > 0.0 {
            delivered as f64 * 8.0 / span / 1e9
        } else {
            0.0
        };
        let drops_by_hop: Vec<(&'static str, u64)> = hops
            .iter()
            .map(|h| (h.name(), metrics.drops_by_hop[*h as usize]))
            .collect();
        let with_deadline: Vec<bool> = records.iter().filter_map(|r| r.met_deadline()).collect();
        Summary {
            all,
            short,
            medium,
            long,
            throughput_gbps,
            drops: metrics.drops_by_hop.iter().sum(),
            drops_by_hop,
            retransmissions: records.iter().map(|r| r.retransmits as u64).sum(),
            timeouts: metrics.timeouts,
            fast_retransmits: metrics.fast_retransmits,
            deadlines_met: if with_deadline.is_empty() {
                f64::NAN
            } else {
                with_deadline.iter().filter(|m| **m).count() as f64 / with_deadline.len() as f64
            },
        }
    }
}
