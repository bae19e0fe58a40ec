//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ddclab_sim::flow::FlowSpec;
use ddclab_sim::ids::HostId;
use ddclab_sim::units::Picos;
use ddclab_sim::{Scenario, SimOutput};

/// A scenario from TOML text (panics on errors: tests write valid ones).
pub fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text, "test.toml", &[]).unwrap().0
}

pub fn flow(src: u32, dst: u32, size: u64, start_ns: u64) -> FlowSpec {
    FlowSpec {
        src: HostId(src),
        dst: HostId(dst),
        size,
        start: Picos::from_ns(start_ns),
        tenant: 0,
        deadline: None,
        priority: 0,
    }
}

/// Run a trace scenario with the given flows.
pub fn run_flows(text: &str, flows: Vec<FlowSpec>) -> SimOutput {
    let text = format!("{text}\n[workload]\nkind = \"trace\"\ntrace = \"inline\"\n");
    ddclab_sim::run(scenario(&text), Some(flows)).unwrap()
}

/// Prepare a trace run without running it (to inject faults first).
pub fn prepare(text: &str, flows: Vec<FlowSpec>) -> ddclab_sim::Simulation {
    let text = format!("{text}\n[workload]\nkind = \"trace\"\ntrace = \"inline\"\n");
    ddclab_sim::Simulation::new(scenario(&text), Some(flows), Vec::new()).unwrap()
}

pub fn finish(mut sim: ddclab_sim::Simulation) -> SimOutput {
    sim.run_to_end();
    sim.finish()
}

/// 40 flows of growing size among 8 hosts on a big switch, with 2% of every
/// packet (data and acks) lost at hand-off; `transport_extra` is appended to
/// the `[transport]` table.
pub fn run_under_random_loss(proto: &str, transport_extra: &str, loss_seed: u64) -> SimOutput {
    let text = format!(
        "[topology]\nkind = \"big-switch\"\nhosts = 8\n[transport]\nprotocol = \"{proto}\"\n{transport_extra}"
    );
    let flows: Vec<_> = (0..40)
        .map(|i| flow(i % 8, (i + 3) % 8, 1000 + 37_000 * i as u64, 500 * i as u64))
        .collect();
    let mut sim = prepare(&text, flows);
    let mut rng = ddclab_sim::rng::Rng::new(loss_seed);
    sim.world_mut().loss = Some(Box::new(move |_, _| rng.uniform() < 0.02));
    finish(sim)
}

/// Drops every `nth` packet handed to the network, whatever its kind: a
/// deterministic loss pattern that hits requests, grants, data and acks alike.
pub fn lose_every(sim: &mut ddclab_sim::Simulation, nth: u64) {
    let mut n = 0u64;
    sim.world_mut().loss = Some(Box::new(move |_, _| {
        n += 1;
        n.is_multiple_of(nth)
    }));
}

/// Losses were recovered from: every flow finished, and some packet was resent.
pub fn assert_recovered(out: &SimOutput) {
    assert!(
        out.records.iter().all(|r| r.finish.is_some()),
        "unfinished flows: {:?}",
        out.warnings
    );
    assert!(out.summary.retransmissions > 0);
}
