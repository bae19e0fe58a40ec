//! Ideal (flow-level SRPT lower bound): exact OPT alone, SRPT preemption,
//! per-host constraints, and a lower bound for the packet-level protocols.

mod common;
use common::*;

#[test]
fn lone_flow_fct_is_exactly_opt() {
    for topo in ["leaf-spine", "fat-tree", "big-switch"] {
        for switching in ["store-and-forward", "cut-through"] {
            for size in [1u64, 1460, 1461, 100_000, 3_333_333] {
                let text = format!(
                    "[topology]\nkind = \"{topo}\"\nk = 4\nhosts = 32\nswitching = \"{switching}\"\n[transport]\nprotocol = \"ideal\"\n"
                );
                let out = run_flows(&text, vec![flow(0, 13, size, 700)]);
                let r = &out.records[0];
                assert_eq!(r.fct, Some(r.opt), "{topo} {switching} size {size}");
            }
        }
    }
}

#[test]
fn a_shorter_flow_preempts_and_the_longer_waits_exactly_its_time() {
    // Same source, different destinations: the source sends one at a time.
    let text = "[topology]\nkind = \"big-switch\"\nhosts = 3\n[transport]\nprotocol = \"ideal\"\n";
    let out = run_flows(
        text,
        vec![flow(0, 1, 1_460_000, 0), flow(0, 2, 14_600, 50_000)],
    );
    let (long, short) = (&out.records[0], &out.records[1]);
    assert_eq!(short.fct, Some(short.opt), "the short flow runs at once");
    // The long flow is delayed by exactly the short flow's work (10 full packets).
    let work = ddclab_sim::units::BitsPerSec::gbps(10)
        .tx_time(1500)
        .mul(10);
    assert_eq!(long.fct, Some(long.opt + work));
}

#[test]
fn independent_pairs_run_in_parallel() {
    // 0->1 and 2->3 share no host: both get OPT. 4->5 and 6->5 share a
    // receiver: the smaller goes first.
    let text = "[topology]\nkind = \"big-switch\"\nhosts = 8\n[transport]\nprotocol = \"ideal\"\n";
    let out = run_flows(
        text,
        vec![
            flow(0, 1, 500_000, 0),
            flow(2, 3, 500_000, 0),
            flow(4, 5, 300_000, 0),
            flow(6, 5, 200_000, 0),
        ],
    );
    assert_eq!(out.records[0].slowdown, 1.0);
    assert_eq!(out.records[1].slowdown, 1.0);
    assert_eq!(out.records[3].slowdown, 1.0);
    assert!(out.records[2].slowdown > 1.5);
}

#[test]
fn ideal_is_a_lower_bound_in_practice() {
    let base = "seed = 11\n[workload]\nsizes = \"websearch\"\nflows = 600\nload = 0.6\n";
    let ideal = ddclab_sim::run(
        scenario(&format!("{base}[transport]\nprotocol = \"ideal\"\n")),
        None,
    )
    .unwrap();
    let pf = ddclab_sim::run(
        scenario(&format!("{base}[transport]\nprotocol = \"pfabric\"\n")),
        None,
    )
    .unwrap();
    assert!(ideal.records.iter().all(|r| r.slowdown >= 1.0));
    assert_eq!(ideal.summary.all.completed, 600);
    assert!(
        ideal.summary.all.mean < pf.summary.all.mean,
        "{} vs {}",
        ideal.summary.all.mean,
        pf.summary.all.mean
    );
    assert_eq!(ideal.stats.packets_sent, 0, "ideal is a flow-level model");
}
