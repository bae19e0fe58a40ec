//! # ddclab-sim: a packet-level datacenter network simulator
//!
//! The layers, bottom up:
//!
//! * [`units`], [`ids`], [`rng`]: integer picosecond time, byte and rate
//!   newtypes, typed indices, a generator whose stream never changes.
//! * [`event`], [`packet`]: the event queue (ordered by time, then by the
//!   order of scheduling) and the pool that packets live in.
//! * [`topology`], [`queue`], [`network`]: who is linked to whom, what each
//!   output port does with packets, and how packets move from port to port.
//! * [`world`], [`engine`]: the state transports act on and the loop that
//!   drives it.
//! * [`transport`]: the protocols, one file each behind one trait.
//! * [`workload`], [`flow`]: what flows arrive, and what became of them.
//! * [`opt`], [`metrics`]: the ideal FCT of a flow and the run's statistics.
//! * [`scenario`]: the TOML schema of a run.
//!
//! [`Simulation`] ties them together; [`run`] is the one-call form.

pub mod engine;
pub mod error;
pub mod event;
pub mod flow;
pub mod ids;
pub mod metrics;
pub mod network;
pub mod opt;
pub mod packet;
pub mod prefetch;
pub mod queue;
pub mod ring;
pub mod rng;
pub mod scenario;
pub mod topology;
pub mod transport;
pub mod units;
pub mod workload;
pub mod world;

use std::time::Instant;

use engine::{Engine, Progress, StopRule};
pub use error::{Result, SimError};
use flow::{FlowOutcome, FlowSpec};
use metrics::{FlowRecord, Metrics, Summary};
use network::{Network, QueueSpec};
pub use scenario::Scenario;
use scenario::{QueueKind, WorkloadKind};
use transport::{Transport, WithTransport};
use units::Picos;
use world::World;

/// Counters of the run itself.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    pub events: u64,
    /// Packet transmissions over all links.
    pub packet_hops: u64,
    /// Packets sent by hosts.
    pub packets_sent: u64,
    pub peak_live_packets: usize,
    /// Most events pending at once.
    pub peak_events: usize,
    pub wall_seconds: f64,
    /// Simulated time at the end of the run.
    pub end_time: Picos,
    pub stalled: bool,
}

/// What one output port did.
#[derive(Clone, Debug)]
pub struct PortStats {
    pub port: u32,
    pub node: u32,
    pub peer: u32,
    pub hop: &'static str,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub drops: u64,
    pub max_queue_bytes: u64,
    /// Time-average occupancy (FIFO ports; NaN for priority ports).
    pub mean_queue_bytes: f64,
}

/// Everything a run produced.
pub struct SimOutput {
    pub ports: Vec<PortStats>,
    pub records: Vec<FlowRecord>,
    pub summary: Summary,
    pub pending: Vec<(Picos, u64)>,
    /// (time, tenant, payload bytes delivered to that tenant's destinations
    /// so far), sampled with `pending`.
    pub tenants: Vec<(Picos, u32, u64)>,
    pub stats: RunStats,
    pub warnings: Vec<String>,
}

/// A run that can be advanced in slices (so a front end can show progress
/// and react to Ctrl-C between slices).
pub trait Runner: Send {
    fn step(&mut self, budget: u64) -> Progress;
    fn world(&self) -> &World;
    fn world_mut(&mut self) -> &mut World;
}

impl<T: Transport + Send> Runner for Engine<T> {
    fn step(&mut self, budget: u64) -> Progress {
        self.run(budget)
    }
    fn world(&self) -> &World {
        &self.world
    }
    fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

pub struct Simulation {
    runner: Box<dyn Runner>,
    scenario: Scenario,
    opts: Vec<Picos>,
    started: Instant,
    warnings: Vec<String>,
    stalled: bool,
}

struct Build {
    world: World,
    stop: StopRule,
}

impl WithTransport for Build {
    type Output = Box<dyn Runner>;
    fn call<T: Transport + 'static>(self, t: T) -> Box<dyn Runner> {
        Box::new(Engine::new(self.world, t, self.stop))
    }
}

impl Simulation {
    /// Prepare a run. `flows` are the flows of a trace workload (required
    /// when `workload.kind = "trace"`, ignored otherwise).
    pub fn new(
        scenario: Scenario,
        flows: Option<Vec<FlowSpec>>,
        warnings: Vec<String>,
    ) -> Result<Simulation> {
        let started = Instant::now();
        let kind = match scenario.transport.queue {
            QueueKind::Auto => transport::default_queue(&scenario.transport.protocol),
            k => k,
        };
        let t = &scenario.topology;
        let qspec = QueueSpec {
            kind,
            switch_buffer: t.buffer.0 .0,
            host_buffer: t.host_buffer.map_or(u64::MAX, |b| b.0 .0),
            ecn_k: scenario.transport.ecn_k,
            levels: scenario.transport.priority_levels,
            nic_pulls: transport::nic_pulls(&scenario.transport.protocol),
        };
        let net = Network::new(t, &qspec);
        // Packets are numbered with 32 bits: a larger flow would wrap.
        let max_size = u32::MAX as u64 * net.params.payload() as u64;
        let too_big = |what: String, size: u64| {
            SimError::Scenario(format!(
                "{what}: a flow of {size} bytes needs more than 2^32 - 1 packets (at most {max_size} bytes)"
            ))
        };
        let mut flows = match scenario.workload.kind {
            WorkloadKind::Poisson => workload::poisson(&scenario, &net.params)?,
            WorkloadKind::Trace => {
                let given = flows.ok_or_else(|| {
                    SimError::Scenario(
                        "workload.kind = \"trace\" but no trace flows were given".into(),
                    )
                })?;
                // In the given (file) order, before the check sorts them.
                if let Some((i, f)) = given.iter().enumerate().find(|(_, f)| f.size > max_size) {
                    return Err(too_big(format!("trace row {}", i + 1), f.size));
                }
                workload::check_trace(given, net.params.hosts, |i| format!("flow {i}"))?
            }
        };
        if let Some(f) = flows.iter().find(|f| f.size > max_size) {
            let key = if scenario.workload.sizes == "fixed" {
                "workload.fixed_size".to_string()
            } else {
                format!("workload.sizes = {:?}", scenario.workload.sizes)
            };
            return Err(too_big(key, f.size));
        }
        if flows.len() > u32::MAX as usize / 2 {
            return Err(SimError::Scenario("too many flows".into()));
        }
        // OPT of every flow, and deadlines no tighter than 1.25 x OPT.
        let mut opts = Vec::with_capacity(flows.len());
        for f in flows.iter_mut() {
            let rates = opt::path_rates(&net, f.src, f.dst);
            let o = opt::opt_fct(&net.params, &rates, f.size);
            if let Some(d) = f.deadline {
                f.deadline = Some(d.max(o.scale(5, 4)));
            }
            opts.push(o);
        }
        let first = flows.first().map_or(Picos::ZERO, |f| f.start);
        let last = flows.last().map_or(Picos::ZERO, |f| f.start);
        let sample_interval = match scenario.metrics.sample_interval {
            Some(d) => d.0,
            None => Picos(((last - first).0 / 1000).max(Picos::from_us(1).0)),
        };
        let stop = StopRule {
            max_time: scenario.metrics.max_time.map_or(Picos::MAX, |d| d.0),
            sample_interval,
        };
        let n = flows.len();
        let tenants = flows
            .iter()
            .map(|f| f.tenant)
            .max()
            .map_or(1, |t| t as usize + 1);
        let metrics = Metrics {
            tenant_delivered: vec![0; tenants],
            ..Metrics::default()
        };
        let world = World {
            now: Picos::ZERO,
            events: event::EventQueue::with_capacity(1 << 16),
            packets: packet::PacketPool::default(),
            net,
            flows,
            outcomes: vec![FlowOutcome::default(); n],
            metrics,
            rng: rng::Rng::derive(scenario.seed, 5),
            arrived: 0,
            completed: 0,
            loss: None,
        };
        let runner = transport::with_transport(&scenario, n, Build { world, stop })?;
        Ok(Simulation {
            runner,
            scenario,
            opts,
            started,
            warnings,
            stalled: false,
        })
    }

    /// Advance by up to `budget` events.
    pub fn step(&mut self, budget: u64) -> Progress {
        let p = self.runner.step(budget);
        if p == Progress::Stalled {
            self.stalled = true;
        }
        p
    }

    /// Run to the end.
    pub fn run_to_end(&mut self) {
        while self.step(1 << 22) == Progress::Running {}
    }

    pub fn world(&self) -> &World {
        self.runner.world()
    }

    /// The world, for tests and tools that inject faults before the run.
    pub fn world_mut(&mut self) -> &mut World {
        self.runner.world_mut()
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// (flows completed, flows in the workload).
    pub fn progress(&self) -> (u32, u32) {
        let w = self.world();
        (w.completed, w.flows.len() as u32)
    }

    /// Collect the results (call after the run ends).
    pub fn finish(mut self) -> SimOutput {
        let end = self.runner.world().now;
        // Close the time series at the end of the run.
        let m = &mut self.runner.world_mut().metrics;
        if m.pending.last().is_none_or(|&(t, _)| t < end) {
            m.sample(end);
        }
        let ports: Vec<PortStats> = self
            .runner
            .world_mut()
            .net
            .ports
            .iter_mut()
            .enumerate()
            .map(|(i, p)| PortStats {
                port: i as u32,
                node: p.node.0,
                peer: p.peer.0,
                hop: p.hop.name(),
                tx_packets: p.tx_packets(),
                tx_bytes: p.tx_bytes,
                drops: p.drops,
                max_queue_bytes: p.max_queue_bytes,
                mean_queue_bytes: p.mean_queue_bytes(end),
            })
            .collect();
        let w = self.runner.world();
        let records: Vec<FlowRecord> = w
            .flows
            .iter()
            .zip(&w.outcomes)
            .zip(&self.opts)
            .enumerate()
            .map(|(i, ((spec, out), opt))| FlowRecord::new(i as u32, spec, out, *opt))
            .collect();
        let m = &self.scenario.metrics;
        let summary = Summary::compute(
            &records,
            &w.metrics,
            &w.net.topology.hops,
            m.short_below.0 .0,
            m.long_above.0 .0,
        );
        let stats = RunStats {
            events: w.events.processed(),
            packet_hops: w.net.ports.iter().map(|p| p.tx_packets()).sum(),
            packets_sent: w
                .net
                .host_port
                .iter()
                .map(|p| w.net.ports[p.idx()].tx_packets())
                .sum(),
            peak_live_packets: w.packets.peak(),
            peak_events: w.events.max_len(),
            wall_seconds: self.started.elapsed().as_secs_f64(),
            end_time: w.now,
            stalled: self.stalled,
        };
        let mut warnings = self.warnings;
        let unfinished = records.iter().filter(|r| r.finish.is_none()).count();
        if unfinished > 0 {
            warnings.push(format!(
                "{unfinished} of {} flows did not finish (the run stopped at {:.3} us)",
                records.len(),
                w.now.as_us_f64()
            ));
        }
        SimOutput {
            ports,
            records,
            summary,
            pending: w.metrics.pending.clone(),
            tenants: w.metrics.tenant_series.clone(),
            stats,
            warnings,
        }
    }
}

/// Run a scenario to completion.
pub fn run(scenario: Scenario, flows: Option<Vec<FlowSpec>>) -> Result<SimOutput> {
    let mut sim = Simulation::new(scenario, flows, Vec::new())?;
    sim.run_to_end();
    Ok(sim.finish())
}
