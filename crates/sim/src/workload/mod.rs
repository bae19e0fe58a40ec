//! Workloads: which flows arrive, when, between which hosts, how large.
//!
//! Poisson arrivals hit a target load, defined as
//!
//! ```text
//! load = lambda * E[wire bytes of a flow] * 8 / (hosts * host_rate)
//! ```
//!
//! i.e. offered bytes, headers included, over the total host access
//! bandwidth. For the incast matrix an arrival is a whole incast (all its
//! responses), and E[wire bytes] is that of one incast.

pub mod cdf;
mod matrix;

use crate::error::{Result, SimError};
use crate::flow::FlowSpec;
use crate::ids::HostId;
use crate::network::NetParams;
use crate::rng::Rng;
use crate::scenario::{MatrixKind, Scenario};
use crate::units::Picos;
pub use cdf::EmpiricalCdf;
pub use matrix::Matrix;

/// A flow-size distribution, sizes in payload bytes.
#[derive(Clone, Debug)]
pub enum SizeDist {
    /// Sizes in packets from an empirical CDF.
    Empirical(EmpiricalCdf),
    /// `short` packets with probability `short_fraction`, else `long` packets.
    Bimodal {
        short: u64,
        long: u64,
        short_fraction: f64,
    },
    Fixed(u64),
}

impl SizeDist {
    /// Resolve the scenario's `workload.sizes`: a built-in name, "bimodal",
    /// "fixed", or a path to a CDF file.
    pub fn from_scenario(sc: &Scenario) -> Result<SizeDist> {
        Self::named(sc, &sc.workload.sizes)
    }

    /// Resolve a distribution name as `workload.sizes` does.
    pub fn named(sc: &Scenario, name: &str) -> Result<SizeDist> {
        let wl = &sc.workload;
        match name {
            "bimodal" => {
                let b = wl.bimodal.as_ref().expect("validated");
                Ok(SizeDist::Bimodal {
                    short: b.short as u64,
                    long: b.long as u64,
                    short_fraction: b.short_fraction,
                })
            }
            "fixed" => Ok(SizeDist::Fixed(wl.fixed_size.expect("validated").0 .0)),
            name => {
                if let Some(c) = EmpiricalCdf::builtin(name) {
                    return Ok(SizeDist::Empirical(c));
                }
                let text = std::fs::read_to_string(name).map_err(|e| {
                    let known: Vec<&str> = cdf::BUILTIN.iter().map(|(n, _)| *n).collect();
                    SimError::Scenario(format!(
                        "workload.sizes: {name:?} is neither a built-in distribution ({}, bimodal, fixed) nor a readable CDF file ({e})",
                        known.join(", ")
                    ))
                })?;
                Ok(SizeDist::Empirical(EmpiricalCdf::parse(&text, name)?))
            }
        }
    }

    pub fn sample(&self, rng: &mut Rng, payload: u64) -> u64 {
        match self {
            SizeDist::Empirical(c) => c.sample_packets(rng) * payload,
            SizeDist::Bimodal {
                short,
                long,
                short_fraction,
            } => {
                if rng.uniform() < *short_fraction {
                    short * payload
                } else {
                    long * payload
                }
            }
            SizeDist::Fixed(b) => *b,
        }
    }

    /// Mean bytes on the wire of one flow (headers included).
    pub fn mean_wire_bytes(&self, p: &NetParams) -> f64 {
        let mtu = p.mtu as f64;
        match self {
            SizeDist::Empirical(c) => c.mean_packets().max(1.0) * mtu,
            SizeDist::Bimodal {
                short,
                long,
                short_fraction,
            } => (short_fraction * *short as f64 + (1.0 - short_fraction) * *long as f64) * mtu,
            SizeDist::Fixed(b) => wire_bytes(p, *b) as f64,
        }
    }
}

/// Bytes on the wire for a flow of `size` payload bytes.
pub fn wire_bytes(p: &NetParams, size: u64) -> u64 {
    size + p.packets_for(size) as u64 * p.header as u64
}

/// Generate the Poisson workload of a scenario, sorted by arrival time.
pub fn poisson(sc: &Scenario, p: &NetParams) -> Result<Vec<FlowSpec>> {
    let wl = &sc.workload;
    // One distribution, or one per tenant (flows alternate between tenants).
    let per_tenant: Vec<SizeDist> = wl
        .tenant_sizes
        .iter()
        .map(|n| SizeDist::named(sc, n))
        .collect::<Result<_>>()?;
    // P(an arrival belongs to tenant i), proportional to 1 / mean size.
    let tenant_weights: Vec<f64> = {
        let inv: Vec<f64> = per_tenant
            .iter()
            .map(|d| 1.0 / d.mean_wire_bytes(p))
            .collect();
        let total: f64 = inv.iter().sum();
        inv.iter().map(|x| x / total).collect()
    };
    let mut tenant_rng = Rng::derive(sc.seed, 6);
    let sizes = if per_tenant.is_empty() {
        SizeDist::from_scenario(sc)?
    } else {
        per_tenant[0].clone()
    };
    let payload = p.payload() as u64;
    let hosts = p.hosts;
    let mut size_rng = Rng::derive(sc.seed, 1);
    let mut time_rng = Rng::derive(sc.seed, 2);
    let mut pair_rng = Rng::derive(sc.seed, 3);
    let mut deadline_rng = Rng::derive(sc.seed, 4);
    let matrix = Matrix::new(wl.matrix, hosts, &mut pair_rng);
    let incast = wl.matrix == MatrixKind::Incast;
    let per_arrival_wire = if incast {
        wl.incast_senders as f64 * wire_bytes(p, wl.incast_response.0 .0) as f64
    } else if !per_tenant.is_empty() {
        // Each tenant offers an equal share of the load, so tenant i's flows
        // arrive at a rate proportional to 1 / (its mean flow size); the mean
        // bytes per arrival is then the harmonic mean of the tenants' means.
        per_tenant.len() as f64
            / per_tenant
                .iter()
                .map(|d| 1.0 / d.mean_wire_bytes(p))
                .sum::<f64>()
    } else {
        sizes.mean_wire_bytes(p)
    };
    let capacity_bps = hosts as f64 * p.host_rate.0 as f64;
    let rate_per_ps = wl.load * capacity_bps / (8.0 * per_arrival_wire) / 1e12;
    let mean_gap_ps = 1.0 / rate_per_ps;
    let mut t = wl.start.0 .0 as f64;
    let mut flows = Vec::with_capacity(wl.flows as usize);
    let deadline = |rng: &mut Rng| {
        wl.deadline_mean
            .map(|m| Picos(rng.exponential(m.0 .0 as f64).round() as u64))
    };
    while flows.len() < wl.flows as usize {
        t += time_rng.exponential(mean_gap_ps);
        let start = Picos(t.round() as u64);
        if incast {
            let (dst, senders) = matrix.incast(wl.incast_senders, &mut pair_rng);
            for src in senders {
                if flows.len() == wl.flows as usize {
                    break;
                }
                flows.push(FlowSpec {
                    src,
                    dst,
                    size: wl.incast_response.0 .0,
                    start,
                    tenant: src.0 % wl.tenants,
                    deadline: deadline(&mut deadline_rng),
                    priority: 0,
                });
            }
        } else {
            let (src, dst) = matrix.pair(&mut pair_rng);
            let (tenant, dist) = if per_tenant.is_empty() {
                (src.0 % wl.tenants, &sizes)
            } else {
                let t = pick_tenant(&tenant_weights, tenant_rng.uniform());
                (t as u32, &per_tenant[t])
            };
            flows.push(FlowSpec {
                src,
                dst,
                size: dist.sample(&mut size_rng, payload),
                start,
                tenant,
                deadline: deadline(&mut deadline_rng),
                priority: 0,
            });
        }
    }
    Ok(flows)
}

/// The tenant whose cumulative weight first exceeds `u`.
fn pick_tenant(weights: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    weights.len() - 1
}

/// Tenants are numbered densely from 0 (per-tenant state is kept in arrays).
pub const MAX_TENANTS: u32 = 1024;

/// Check flows given directly (from a trace) and sort them by arrival time,
/// keeping the given order among equal times. `row_of(i)` names flow i's row.
pub fn check_trace(
    mut flows: Vec<FlowSpec>,
    hosts: u32,
    row_of: impl Fn(usize) -> String,
) -> Result<Vec<FlowSpec>> {
    for (i, f) in flows.iter().enumerate() {
        if f.src.0 >= hosts {
            return Err(SimError::Trace(format!(
                "{}: src {} is out of range (hosts are 0..{})",
                row_of(i),
                f.src.0,
                hosts - 1
            )));
        }
        if f.dst.0 >= hosts {
            return Err(SimError::Trace(format!(
                "{}: dst {} is out of range (hosts are 0..{})",
                row_of(i),
                f.dst.0,
                hosts - 1
            )));
        }
        if f.src == f.dst {
            return Err(SimError::Trace(format!(
                "{}: src and dst are both {}",
                row_of(i),
                f.src.0
            )));
        }
        if f.size == 0 {
            return Err(SimError::Trace(format!(
                "{}: size is 0 (flows must carry at least one byte)",
                row_of(i)
            )));
        }
        if f.tenant >= MAX_TENANTS {
            return Err(SimError::Trace(format!(
                "{}: tenant {} is out of range (tenants are numbered 0..{})",
                row_of(i),
                f.tenant,
                MAX_TENANTS - 1
            )));
        }
    }
    flows.sort_by_key(|f| f.start);
    Ok(flows)
}

/// A host id from an index (for callers building traces).
pub fn host(i: u32) -> HostId {
    HostId(i)
}
