//! The reference benchmark: the pFabric/pHost leaf-spine (144 hosts) with
//! 40 Gbps hosts and 160 Gbps fabric links, Web Search flow sizes at load 0.6,
//! DCTCP with K = 65 packets; 10,000 and 100,000 flows. Prints wall seconds,
//! simulated packets per wall second, events per second and peak RSS.
//!
//! `cargo bench -p ddclab-sim --bench reference [-- FLOWS...]`

use std::time::Instant;

use ddclab_sim::{Scenario, Simulation};

const REFERENCE: &str = r#"
name = "reference"
seed = 1
[topology]
kind = "leaf-spine"
host_rate = "40Gbps"
fabric_rate = "160Gbps"
# Deep enough that K = 65 packets is reachable (a 36 KiB port holds only 24).
buffer = "300KB"
[transport]
protocol = "dctcp"
ecn_k = 65
[workload]
sizes = "websearch"
load = 0.6
"#;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let counts = if args.is_empty() {
        vec![10_000, 100_000]
    } else {
        args
    };
    println!(
        "{:>8} {:>9} {:>12} {:>14} {:>14} {:>10} {:>12} {:>9}",
        "flows", "wall_s", "events", "events/s", "pkt-hops/s", "pkts/s", "mean_sd", "rss_MiB"
    );
    for n in counts {
        let (sc, _) =
            Scenario::from_toml(REFERENCE, "reference", &[format!("workload.flows={n}")]).unwrap();
        let t0 = Instant::now();
        let mut sim = Simulation::new(sc, None, Vec::new()).unwrap();
        sim.run_to_end();
        let out = sim.finish();
        let wall = t0.elapsed().as_secs_f64();
        let s = &out.stats;
        println!(
            "{:>8} {:>9.2} {:>12} {:>14.0} {:>14.0} {:>10.0} {:>12.3} {:>9.0}",
            n,
            wall,
            s.events,
            s.events as f64 / wall,
            s.packet_hops as f64 / wall,
            s.packets_sent as f64 / wall,
            out.summary.all.mean,
            peak_rss_mib()
        );
        for w in &out.warnings {
            println!("  warning: {w}");
        }
    }
}
