//! Bad input never panics: any value for any documented scenario key either is
//! refused with an error or gives a run that ends (the CLI turns the error
//! into one line and exit code 2; a panic would be a traceback).

use ddclab_sim::engine::Progress;
use ddclab_sim::{Scenario, Simulation};
use proptest::prelude::*;

/// A small valid scenario that every case starts from.
const BASE: &str = r#"
name = "robustness"
seed = 3
[topology]
kind = "leaf-spine"
racks = 2
hosts_per_rack = 4
spines = 2
[transport]
protocol = "dctcp"
[workload]
sizes = "websearch"
load = 0.5
flows = 20
"#;

/// Every key of docs/scenario.md outside the trace workload (which needs a
/// file) and the run's name.
const KEYS: &[&str] = &[
    "seed",
    "topology.kind",
    "topology.racks",
    "topology.hosts_per_rack",
    "topology.spines",
    "topology.k",
    "topology.hosts",
    "topology.host_rate",
    "topology.fabric_rate",
    "topology.propagation",
    "topology.switch_delay",
    "topology.switching",
    "topology.buffer",
    "topology.host_buffer",
    "topology.mtu",
    "topology.header",
    "topology.routing",
    "transport.protocol",
    "transport.init_window",
    "transport.min_rto",
    "transport.ecn_k",
    "transport.dctcp_g",
    "transport.queue",
    "transport.priority_levels",
    "transport.ack_priority",
    "transport.sack",
    "transport.delayed_ack",
    "workload.kind",
    "workload.sizes",
    "workload.bimodal",
    "workload.fixed_size",
    "workload.load",
    "workload.flows",
    "workload.matrix",
    "workload.incast_senders",
    "workload.incast_response",
    "workload.start",
    "workload.deadline_mean",
    "workload.tenants",
    "metrics.short_below",
    "metrics.long_above",
    "metrics.sample_interval",
    "metrics.max_time",
];

/// Values of every shape a user might type: edge numbers, units, words,
/// arrays and tables.
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "64",
    "4294967296",
    "18446744073709551615",
    "-9223372036854775808",
    "0.0",
    "0.5",
    "1.5",
    "-0.5",
    "1e308",
    "nan",
    "inf",
    "true",
    "\"\"",
    "\"0\"",
    "\"0Gbps\"",
    "\"1bps\"",
    "\"10Gbps\"",
    "\"400Gbps\"",
    "\"1e30Gbps\"",
    "\"0ns\"",
    "\"1ps\"",
    "\"200ns\"",
    "\"1s\"",
    "\"0B\"",
    "\"1B\"",
    "\"40B\"",
    "\"1500B\"",
    "\"36KiB\"",
    "\"1TB\"",
    "\"-5us\"",
    "\"tcp\"",
    "\"pfabric\"",
    "\"phost\"",
    "\"fastpass\"",
    "\"ideal\"",
    "\"fat-tree\"",
    "\"big-switch\"",
    "\"cut-through\"",
    "\"spray\"",
    "\"priority\"",
    "\"incast\"",
    "\"permutation\"",
    "\"bimodal\"",
    "\"fixed\"",
    "\"datamining\"",
    "\"nonsense\"",
    "[1, 2]",
    "[0.5, 0.5]",
    "{ a = 1 }",
];

fn run_case(settings: &[(usize, usize)]) {
    let overrides: Vec<String> = settings
        .iter()
        .map(|&(k, v)| format!("{}={}", KEYS[k], VALUES[v]))
        .collect();
    let Ok((sc, warnings)) = Scenario::from_toml(BASE, "base.toml", &overrides) else {
        return;
    };
    let Ok(mut sim) = Simulation::new(sc, None, warnings) else {
        return;
    };
    // A bounded budget: some accepted settings are merely slow (a 1 bps
    // link), and the point is only that nothing panics on the way.
    for _ in 0..50 {
        if sim.step(20_000) != Progress::Running {
            break;
        }
    }
    let _ = sim.finish();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// One to three keys set to arbitrary values.
    #[test]
    fn no_setting_panics(
        settings in prop::collection::vec((0..KEYS.len(), 0..VALUES.len()), 1..4)
    ) {
        run_case(&settings);
    }
}

/// Every key with every value, one at a time (deterministic, complete).
#[test]
fn no_single_setting_panics() {
    for k in 0..KEYS.len() {
        for v in 0..VALUES.len() {
            run_case(&[(k, v)]);
        }
    }
}

/// Arbitrary text as a scenario file is an error, not a panic.
#[test]
fn garbage_text_is_an_error() {
    for text in [
        "",
        "[",
        "[topology]\nkind = ",
        "seed = \"x\"",
        "[[workload]]\nload = 1",
        "\u{0}\u{1}",
        "[topology]\nracks = 1e400",
    ] {
        if let Ok((sc, w)) = Scenario::from_toml(text, "t.toml", &[]) {
            // An empty file is the documented default scenario; it must run.
            let _ = Simulation::new(sc, None, w);
        }
    }
}

/// Flows too large for 32-bit packet numbers are refused, not wrapped (a CDF
/// of 1e300-packet flows used to run forever).
#[test]
fn flows_beyond_32_bit_packet_numbers_are_refused() {
    let cdf = ddclab_sim::workload::EmpiricalCdf::parse("1 1 0\n1e300 1 1\n", "big.cdf");
    let Err(err) = cdf else {
        panic!("a 1e300-packet size must be refused")
    };
    let err = err.to_string();
    assert!(err.contains("big.cdf line 2"), "{err}");
    let text = "[topology]\nkind = \"big-switch\"\nhosts = 4\n[workload]\nsizes = \"fixed\"\nfixed_size = 10000000000000\nflows = 3\n";
    let (sc, w) = Scenario::from_toml(text, "t.toml", &[]).unwrap();
    let Err(err) = Simulation::new(sc, None, w) else {
        panic!("refused")
    };
    let err = err.to_string();
    assert!(err.contains("workload.fixed_size"), "{err}");
}
