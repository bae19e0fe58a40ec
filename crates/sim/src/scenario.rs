//! The scenario schema: every parameter of a run, with its default.
//!
//! Scenarios are TOML. Unknown keys are errors that name the key and its line;
//! values with units are written with their unit (`"10Gbps"`, `"200ns"`,
//! `"36KiB"`). `docs/scenario.md` is the reference for every key; keep the two
//! in step.

use serde::{Deserialize, Deserializer};

use crate::error::{Result, SimError};
use crate::units::{parse_duration, parse_rate, parse_size, BitsPerSec, Bytes, Picos};

// ---------------------------------------------------------------- unit values

/// A duration written with its unit, e.g. `"200ns"`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Duration(pub Picos);
/// A rate written with its unit, e.g. `"40Gbps"`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(pub BitsPerSec);
/// A size in bytes, as an integer or with a unit, e.g. `"36KiB"`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Size(pub Bytes);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "expected a duration string with a unit, like \"200ns\" or \"45us\"",
            )
        })?;
        parse_duration(&s).map(Duration).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid duration {s:?}: expected a non-negative number with a unit (ps, ns, us, ms, s)"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected a rate string with a unit, like \"10Gbps\"")
        })?;
        parse_rate(&s).map(Rate).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid rate {s:?}: expected a positive number with a unit (Mbps, Gbps, Tbps)"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected a size: an integer number of bytes or a string like \"36KiB\"")
        })? {
            Raw::Int(v) if v >= 0 => Ok(Size(Bytes(v as u64))),
            Raw::Int(v) => Err(serde::de::Error::custom(format!("invalid size {v}: must not be negative"))),
            Raw::Str(s) => parse_size(&s).map(Size).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid size {s:?}: expected bytes or a number with a unit (B, KB, KiB, MB, MiB, GB, GiB)"
                ))
            }),
        }
    }
}

// ---------------------------------------------------------------- the schema

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// A label carried into the outputs.
    pub name: String,
    /// Seed of every random choice in the run.
    pub seed: u64,
    pub topology: TopologyConfig,
    pub transport: TransportConfig,
    pub workload: WorkloadConfig,
    pub metrics: MetricsConfig,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "unnamed".into(),
            seed: 1,
            topology: TopologyConfig::default(),
            transport: TransportConfig::default(),
            workload: WorkloadConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopologyKind {
    LeafSpine,
    FatTree,
    BigSwitch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Switching {
    StoreAndForward,
    CutThrough,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// Per-flow ECMP: a flow's packets all take one hashed path.
    Ecmp,
    /// Packet spraying: each packet picks a random equal-cost next hop.
    Spray,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopologyConfig {
    pub kind: TopologyKind,
    /// leaf-spine: racks (ToR switches), hosts per rack, spine switches.
    pub racks: u32,
    pub hosts_per_rack: u32,
    pub spines: u32,
    /// fat-tree: the switch radix k (k^3/4 hosts).
    pub k: u32,
    /// big-switch: number of hosts.
    pub hosts: u32,
    /// Host access link speed.
    pub host_rate: Rate,
    /// Switch-to-switch link speed; default: full bisection for the topology.
    pub fabric_rate: Option<Rate>,
    /// Propagation delay of every link.
    pub propagation: Duration,
    /// Extra latency through each switch (lookup and pipeline).
    pub switch_delay: Duration,
    pub switching: Switching,
    /// Buffer of each switch output port.
    pub buffer: Size,
    /// Buffer of each host NIC queue; absent means unlimited (the host's
    /// memory holds what the transport hands it).
    pub host_buffer: Option<Size>,
    pub mtu: u32,
    /// Header bytes of every packet (data packets carry mtu - header payload).
    pub header: u32,
    pub routing: Routing,
}

impl Default for TopologyConfig {
    fn default() -> Self {
        TopologyConfig {
            kind: TopologyKind::LeafSpine,
            racks: 9,
            hosts_per_rack: 16,
            spines: 4,
            k: 4,
            hosts: 16,
            host_rate: Rate(BitsPerSec::gbps(10)),
            fabric_rate: None,
            propagation: Duration(Picos::from_ns(200)),
            switch_delay: Duration(Picos::ZERO),
            switching: Switching::StoreAndForward,
            buffer: Size(Bytes(36_864)),
            host_buffer: None,
            mtu: 1500,
            header: 40,
            routing: Routing::Ecmp,
        }
    }
}

impl TopologyConfig {
    pub fn num_hosts(&self) -> u32 {
        match self.kind {
            TopologyKind::LeafSpine => self.racks * self.hosts_per_rack,
            TopologyKind::FatTree => self.k * self.k * self.k / 4,
            TopologyKind::BigSwitch => self.hosts,
        }
    }

    /// The fabric speed: as configured, or the one that gives full bisection.
    pub fn fabric_rate(&self) -> BitsPerSec {
        if let Some(r) = self.fabric_rate {
            return r.0;
        }
        let h = self.host_rate.0 .0;
        match self.kind {
            // Each ToR has hosts_per_rack host links and `spines` uplinks.
            TopologyKind::LeafSpine => BitsPerSec(
                (h as u128 * self.hosts_per_rack as u128 / self.spines.max(1) as u128) as u64,
            ),
            TopologyKind::FatTree | TopologyKind::BigSwitch => BitsPerSec(h),
        }
    }

    pub fn payload(&self) -> u32 {
        self.mtu - self.header
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueKind {
    /// The protocol's own choice (TCP: drop-tail, DCTCP: ECN, ...).
    Auto,
    DropTail,
    /// Drop-tail FIFO that marks ECN above `ecn_k` packets.
    Ecn,
    /// Strict priority over `priority_levels` levels (0 is served first).
    Priority,
    /// pFabric: serve the smallest remaining size first, drop the largest.
    Pfabric,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransportConfig {
    pub protocol: String,
    /// Initial congestion window, packets.
    pub init_window: Option<u32>,
    /// Minimum (and initial) retransmission timeout.
    pub min_rto: Option<Duration>,
    /// ECN marking threshold in packets; default 65 packets per 10 Gbps of the
    /// port's link speed, at most half the port's buffer.
    pub ecn_k: Option<u32>,
    /// DCTCP's alpha gain.
    pub dctcp_g: f64,
    pub queue: QueueKind,
    pub priority_levels: u32,
    /// Send acknowledgements at the highest priority (priority queues only).
    pub ack_priority: bool,
    /// TCP/DCTCP: SACK-based loss recovery (false: NewReno).
    pub sack: bool,
    /// TCP/DCTCP: delayed acknowledgements with this timeout (None or zero:
    /// every data packet is acknowledged at once).
    pub delayed_ack: Option<Duration>,
    // --- pFabric, pHost, Fastpass (docs/scenario-transports.md)
    /// Fixed retransmission timeout of pFabric (default 45 us), pHost's
    /// token re-issue timeout (default 9.5 us) and Fastpass's (default 45 us).
    pub rto: Option<Duration>,
    /// pHost: the bandwidth-delay product in packets (default 8): the free
    /// tokens, the tokens a flow may have outstanding, the downgrade threshold
    /// and the largest "short" flow.
    pub phost_bdp: Option<u32>,
    /// pHost: packets a source may send before any token (default: phost_bdp,
    /// 0 under the tenant-fair policy).
    pub phost_free_tokens: Option<u32>,
    /// pHost: the destination's token policy.
    pub phost_policy: PhostPolicy,
    /// pHost: the source's policy for choosing among its tokens (default: the
    /// same as phost_policy).
    pub phost_source_policy: Option<PhostPolicy>,
    /// Fastpass: the host the arbiter sits at.
    pub fastpass_arbiter: u32,
    /// Fastpass: timeslots (MTU times) per epoch.
    pub fastpass_epoch_slots: u32,
    /// Fastpass: the arbiter's allocation order.
    pub fastpass_order: FastpassOrder,
}

/// pHost's scheduling policies (at destinations and at sources).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhostPolicy {
    /// Fewest remaining packets first.
    Srpt,
    /// Earliest deadline first (flows without a deadline last, SRPT among them).
    Edf,
    /// The tenant with fewer bytes so far first, SRPT within a tenant.
    TenantFair,
}

/// The order in which the Fastpass arbiter serves demands in each timeslot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FastpassOrder {
    /// Least recently allocated first (max-min fair, the paper's default).
    Fair,
    /// Fewest remaining packets first.
    Srpt,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            protocol: "dctcp".into(),
            init_window: None,
            min_rto: None,
            ecn_k: None,
            dctcp_g: 1.0 / 16.0,
            queue: QueueKind::Auto,
            priority_levels: 8,
            ack_priority: true,
            sack: true,
            delayed_ack: None,
            rto: None,
            phost_bdp: None,
            phost_free_tokens: None,
            phost_policy: PhostPolicy::Srpt,
            phost_source_policy: None,
            fastpass_arbiter: 0,
            fastpass_epoch_slots: 8,
            fastpass_order: FastpassOrder::Fair,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Poisson flow arrivals at a target load.
    Poisson,
    /// Flows read from a trace file (CSV or Parquet).
    Trace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatrixKind {
    /// Uniform random source, uniform random other destination.
    AllToAll,
    /// A fixed random permutation: every host sends to one other host.
    Permutation,
    /// Each arrival is `incast_senders` hosts answering one receiver at once.
    Incast,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bimodal {
    /// Short flow size, packets.
    pub short: u32,
    /// Long flow size, packets.
    pub long: u32,
    /// Fraction of flows that are short, in [0, 1].
    pub short_fraction: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadConfig {
    pub kind: WorkloadKind,
    /// Flow sizes: a built-in distribution (websearch, datamining, imc10, ddc),
    /// a path to a CDF file, or "bimodal" (see `bimodal`), or "fixed" (see `fixed_size`).
    pub sizes: String,
    pub bimodal: Option<Bimodal>,
    pub fixed_size: Option<Size>,
    /// Offered load: offered bytes (headers included) over total host access bandwidth.
    pub load: f64,
    /// Number of flows to generate.
    pub flows: u32,
    pub matrix: MatrixKind,
    pub incast_senders: u32,
    pub incast_response: Size,
    /// The trace file for kind = "trace" (read by the front end).
    pub trace: Option<String>,
    /// Offset added to every arrival time.
    pub start: Duration,
    /// Mean of the exponential deadline distribution; absent means no deadlines.
    pub deadline_mean: Option<Duration>,
    /// Number of tenants; a flow's tenant is its source host mod `tenants`.
    pub tenants: u32,
    /// One size distribution per tenant (built-in names or CDF paths). When
    /// set, each tenant offers an equal share of the load with sizes from its
    /// distribution (so tenants with smaller flows send more of them), and
    /// `tenants`/`sizes` are unused.
    pub tenant_sizes: Vec<String>,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            kind: WorkloadKind::Poisson,
            sizes: "websearch".into(),
            bimodal: None,
            fixed_size: None,
            load: 0.6,
            flows: 1000,
            matrix: MatrixKind::AllToAll,
            incast_senders: 16,
            incast_response: Size(Bytes(65_536)),
            trace: None,
            start: Duration(Picos::ZERO),
            deadline_mean: None,
            tenants: 1,
            tenant_sizes: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Flows smaller than this are "short".
    pub short_below: Size,
    /// Flows larger than this are "long".
    pub long_above: Size,
    /// Interval of the pending-bytes time series; absent: about 1000 samples
    /// over the arrival period.
    pub sample_interval: Option<Duration>,
    /// Stop the run at this simulated time even if flows are unfinished.
    pub max_time: Option<Duration>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            short_below: Size(Bytes(100_000)),
            long_above: Size(Bytes(10_000_000)),
            sample_interval: None,
            max_time: None,
        }
    }
}

// ---------------------------------------------------------------- loading

/// Problems that do not stop a run but that the user must see.
pub type Warnings = Vec<String>;

impl Scenario {
    /// Parse scenario TOML text. `source` names the file in error messages.
    /// `overrides` are `dotted.key=value` settings applied on top (the CLI's
    /// `--set`); a value is read as TOML, or as a string if it is not valid TOML.
    pub fn from_toml(
        text: &str,
        source: &str,
        overrides: &[String],
    ) -> Result<(Scenario, Warnings)> {
        let mut sc: Scenario = toml::from_str(text).map_err(|e| toml_error(&e, text, source))?;
        if !overrides.is_empty() {
            let mut table: toml::Table =
                toml::from_str(text).map_err(|e| toml_error(&e, text, source))?;
            for ov in overrides {
                apply_override(&mut table, ov)?;
            }
            sc = Scenario::deserialize(toml::Value::Table(table))
                .map_err(|e| SimError::Scenario(format!("--set: {}", one_line(e.message()))))?;
        }
        let warnings = sc.validate().map_err(|(key, msg)| {
            let at = match locate_key(text, &key) {
                Some(line) => format!("{source} line {line}"),
                None => source.to_string(),
            };
            SimError::Scenario(format!("{at}: {key}: {msg}"))
        })?;
        Ok((sc, warnings))
    }

    /// Check values that types alone cannot. Returns warnings, or the failing
    /// key and what is wrong with it.
    pub fn validate(&self) -> std::result::Result<Warnings, (String, String)> {
        let mut w = Vec::new();
        let t = &self.topology;
        let bad = |k: &str, m: String| Err((k.to_string(), m));
        match t.kind {
            TopologyKind::LeafSpine => {
                if t.racks == 0 {
                    return bad("topology.racks", "must be at least 1".into());
                }
                if t.hosts_per_rack == 0 {
                    return bad("topology.hosts_per_rack", "must be at least 1".into());
                }
                if t.spines == 0 {
                    return bad("topology.spines", "must be at least 1".into());
                }
            }
            TopologyKind::FatTree => {
                if t.k < 2 || !t.k.is_multiple_of(2) {
                    return bad(
                        "topology.k",
                        format!("must be an even number >= 2 (got {})", t.k),
                    );
                }
            }
            TopologyKind::BigSwitch => {
                if t.hosts < 2 {
                    return bad(
                        "topology.hosts",
                        format!("must be at least 2 (got {})", t.hosts),
                    );
                }
            }
        }
        if t.num_hosts() < 2 {
            return bad("topology", "needs at least 2 hosts".into());
        }
        if t.num_hosts() > 1 << 20 {
            return bad(
                "topology",
                format!("{} hosts is more than the supported 2^20", t.num_hosts()),
            );
        }
        if t.header == 0 || t.header >= t.mtu {
            return bad(
                "topology.header",
                format!("must be in [1, mtu) (got {} with mtu {})", t.header, t.mtu),
            );
        }
        if t.mtu > 65_535 {
            return bad(
                "topology.mtu",
                format!("must be at most 65535 (got {})", t.mtu),
            );
        }
        if t.buffer.0 .0 < t.mtu as u64 {
            return bad(
                "topology.buffer",
                format!(
                    "must hold at least one MTU ({} B), got {}",
                    t.mtu, t.buffer.0
                ),
            );
        }
        if let Some(hb) = t.host_buffer {
            if hb.0 .0 < t.mtu as u64 {
                return bad(
                    "topology.host_buffer",
                    format!("must hold at least one MTU ({} B)", t.mtu),
                );
            }
        }
        let tr = &self.transport;
        if !crate::transport::PROTOCOLS.contains(&tr.protocol.as_str()) {
            return bad(
                "transport.protocol",
                format!(
                    "unknown protocol {:?}; known: {}",
                    tr.protocol,
                    crate::transport::PROTOCOLS.join(", ")
                ),
            );
        }
        if tr.init_window == Some(0) {
            return bad("transport.init_window", "must be at least 1 packet".into());
        }
        if let Some(r) = tr.min_rto {
            if r.0 == Picos::ZERO {
                return bad("transport.min_rto", "must be positive".into());
            }
        }
        if tr.delayed_ack.is_some_and(|d| d.0 > Picos::ZERO)
            && !matches!(tr.protocol.as_str(), "tcp" | "dctcp")
        {
            return bad(
                "transport.delayed_ack",
                format!(
                    "applies to tcp and dctcp only (protocol is {:?})",
                    tr.protocol
                ),
            );
        }
        if tr.ecn_k == Some(0) {
            return bad("transport.ecn_k", "must be at least 1 packet".into());
        }
        if !(tr.dctcp_g > 0.0 && tr.dctcp_g <= 1.0) {
            return bad(
                "transport.dctcp_g",
                format!("must be in (0, 1] (got {})", tr.dctcp_g),
            );
        }
        if tr.priority_levels == 0 || tr.priority_levels > 64 {
            return bad("transport.priority_levels", "must be in [1, 64]".into());
        }
        if let Some(r) = tr.rto {
            if r.0 == Picos::ZERO {
                return bad("transport.rto", "must be positive".into());
            }
        }
        if tr.phost_bdp == Some(0) {
            return bad("transport.phost_bdp", "must be at least 1 packet".into());
        }
        if tr.fastpass_arbiter >= t.num_hosts() {
            return bad(
                "transport.fastpass_arbiter",
                format!(
                    "must be a host number in [0, {}] (got {})",
                    t.num_hosts() - 1,
                    tr.fastpass_arbiter
                ),
            );
        }
        if tr.fastpass_epoch_slots == 0 || tr.fastpass_epoch_slots > 1024 {
            return bad(
                "transport.fastpass_epoch_slots",
                "must be in [1, 1024]".into(),
            );
        }
        let wl = &self.workload;
        if wl.kind == WorkloadKind::Poisson {
            // Written so that NaN fails too.
            if wl.load.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
                || !wl.load.is_finite()
            {
                return bad("workload.load", format!("must be > 0 (got {})", wl.load));
            }
            if wl.load >= 1.0 {
                w.push(format!(
                    "workload.load = {} is >= 1: the offered load exceeds the network's capacity, so queues grow without bound (unstable)",
                    wl.load
                ));
            }
            if wl.flows == 0 {
                return bad("workload.flows", "must be at least 1".into());
            }
        }
        if wl.kind == WorkloadKind::Trace && wl.trace.is_none() {
            return bad(
                "workload.trace",
                "is required when workload.kind = \"trace\"".into(),
            );
        }
        if wl.sizes == "bimodal" {
            match &wl.bimodal {
                None => {
                    return bad(
                        "workload.bimodal",
                        "is required when workload.sizes = \"bimodal\"".into(),
                    )
                }
                Some(b) => {
                    if b.short == 0 || b.long == 0 {
                        return bad(
                            "workload.bimodal",
                            "short and long must be at least 1 packet".into(),
                        );
                    }
                    if !(0.0..=1.0).contains(&b.short_fraction) {
                        return bad(
                            "workload.bimodal.short_fraction",
                            "must be in [0, 1]".into(),
                        );
                    }
                }
            }
        }
        if wl.sizes == "fixed" {
            match wl.fixed_size {
                None => {
                    return bad(
                        "workload.fixed_size",
                        "is required when workload.sizes = \"fixed\"".into(),
                    )
                }
                Some(s) if s.0 .0 == 0 => {
                    return bad("workload.fixed_size", "flows must not be empty".into())
                }
                _ => {}
            }
        }
        if wl.matrix == MatrixKind::Incast {
            if wl.incast_senders == 0 || wl.incast_senders >= t.num_hosts() {
                return bad(
                    "workload.incast_senders",
                    format!(
                        "must be in [1, hosts - 1] = [1, {}] (got {})",
                        t.num_hosts() - 1,
                        wl.incast_senders
                    ),
                );
            }
            if wl.incast_response.0 .0 == 0 {
                return bad("workload.incast_response", "must be at least 1 byte".into());
            }
        }
        if wl.tenant_sizes.len() == 1 || wl.tenant_sizes.len() > 1024 {
            return bad(
                "workload.tenant_sizes",
                "needs between 2 and 1024 distributions (one per tenant)".into(),
            );
        }
        if !wl.tenant_sizes.is_empty() && wl.matrix == MatrixKind::Incast {
            return bad(
                "workload.tenant_sizes",
                "cannot be combined with the incast matrix".into(),
            );
        }
        if wl.tenants == 0 || wl.tenants > crate::workload::MAX_TENANTS {
            return bad(
                "workload.tenants",
                format!("must be 1 to {}", crate::workload::MAX_TENANTS),
            );
        }
        if let Some(d) = wl.deadline_mean {
            if d.0 == Picos::ZERO {
                return bad("workload.deadline_mean", "must be positive".into());
            }
        }
        let m = &self.metrics;
        if m.short_below.0 > m.long_above.0 {
            return bad(
                "metrics.short_below",
                "must not exceed metrics.long_above".into(),
            );
        }
        if let Some(i) = m.sample_interval {
            if i.0 == Picos::ZERO {
                return bad("metrics.sample_interval", "must be positive".into());
            }
        }
        Ok(w)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turn a TOML/serde error into one line: `file line N: [table] message`.
fn toml_error(e: &toml::de::Error, text: &str, source: &str) -> SimError {
    let msg = one_line(e.message());
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let table = table_at(text, span.start);
            let within = if table.is_empty() {
                String::new()
            } else {
                format!("in [{table}]: ")
            };
            SimError::Scenario(format!("{source} line {line}: {within}{msg}"))
        }
        None => SimError::Scenario(format!("{source}: {msg}")),
    }
}

/// The name of the `[table]` whose body contains byte offset `pos`.
fn table_at(text: &str, pos: usize) -> String {
    let mut current = String::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > pos {
            break;
        }
        let t = line.trim();
        if t.starts_with('[') && !t.starts_with("[[") {
            if let Some(end) = t.find(']') {
                current = t[1..end].trim().to_string();
            }
        }
        offset += line.len();
    }
    current
}

/// The 1-based line where dotted `key` is set in `text`, if it can be found.
pub fn locate_key(text: &str, key: &str) -> Option<usize> {
    let (table, leaf) = match key.rsplit_once('.') {
        Some((t, l)) => (t, l),
        None => ("", key),
    };
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            if let Some(end) = t.find(']') {
                current = t[1..end].trim().to_string();
            }
            if current == key {
                return Some(i + 1);
            }
            continue;
        }
        if let Some((k, _)) = t.split_once('=') {
            let k = k.trim();
            if (current == table && k == leaf) || (current.is_empty() && k == key) {
                return Some(i + 1);
            }
        }
    }
    None
}

fn apply_override(table: &mut toml::Table, ov: &str) -> Result<()> {
    let (key, raw) = ov
        .split_once('=')
        .ok_or_else(|| SimError::Scenario(format!("--set {ov:?}: expected key=value")))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(|p| p.is_empty()) {
        return Err(SimError::Scenario(format!(
            "--set {ov:?}: invalid key {key:?}"
        )));
    }
    let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap(),
        Err(_) => toml::Value::String(raw.trim().to_string()),
    };
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = table;
    for p in &parts[..parts.len() - 1] {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(SimError::Scenario(format!(
                    "--set {key}: {p} is not a table"
                )))
            }
        };
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Scenario::from_toml(text, "s.toml", &[])
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_parse() {
        let (s, w) = Scenario::from_toml("", "s.toml", &[]).unwrap();
        assert!(w.is_empty());
        assert_eq!(s.topology.num_hosts(), 144);
        assert_eq!(s.topology.fabric_rate(), BitsPerSec::gbps(40));
        assert_eq!(s.topology.buffer.0, Bytes(36864));
    }

    #[test]
    fn unknown_key_names_line_and_table() {
        let e = err("seed = 3\n[topology]\nhost_rate = \"10Gbps\"\nbufer = 5\n");
        assert!(e.contains("s.toml line 4"), "{e}");
        assert!(e.contains("[topology]"), "{e}");
        assert!(e.contains("bufer"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn bad_values_are_named() {
        let e = err("[workload]\nload = 0\n");
        assert!(e.contains("line 2") && e.contains("workload.load"), "{e}");
        let e = err("[transport]\nprotocol = \"quic\"\n");
        assert!(
            e.contains("unknown protocol") && e.contains("line 2"),
            "{e}"
        );
        let e = err("[topology]\npropagation = \"fast\"\n");
        assert!(
            e.contains("line 2") && e.contains("invalid duration"),
            "{e}"
        );
    }

    #[test]
    fn overload_warns() {
        let (_, w) = Scenario::from_toml("[workload]\nload = 1.2\n", "s.toml", &[]).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("unstable"));
    }

    #[test]
    fn overrides_apply() {
        let (s, _) = Scenario::from_toml(
            "[topology]\nhost_rate = \"10Gbps\"\n",
            "s.toml",
            &[
                "topology.host_rate=40Gbps".into(),
                "workload.load=0.5".into(),
                "seed=9".into(),
            ],
        )
        .unwrap();
        assert_eq!(s.topology.host_rate.0, BitsPerSec::gbps(40));
        assert_eq!(s.workload.load, 0.5);
        assert_eq!(s.seed, 9);
        let e = Scenario::from_toml("", "s.toml", &["topology.nope=1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--set") && e.contains("nope"), "{e}");
    }
}
