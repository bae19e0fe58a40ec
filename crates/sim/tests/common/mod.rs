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
