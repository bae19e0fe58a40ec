//! Qualitative comparisons at small scale (leaf-spine, 144 hosts, 10 Gbps,
//! load 0.6, packet spraying, fixed seeds), as in the pHost paper: pHost's mean slowdown is
//! within 20% of pFabric's on websearch, datamining and imc10; Fastpass's
//! short flows are clearly slower than under both; Ideal bounds them all.
//! Each test prints its numbers (`cargo test -- --nocapture`).

mod common;
use common::*;
use ddclab_sim::metrics::Summary;

fn run(proto: &str, sizes: &str, flows: u32, seed: u64) -> Summary {
    let text = format!(
        "seed = {seed}\n[topology]\nrouting = \"spray\"\n[transport]\nprotocol = \"{proto}\"\n[workload]\nsizes = \"{sizes}\"\nflows = {flows}\nload = 0.6\n"
    );
    let out = ddclab_sim::run(scenario(&text), None).unwrap();
    let s = out.summary;
    println!(
        "{sizes:>10} {proto:>8}: mean slowdown all {:.3} short {:.3} long {:.3}  p99 {:.2}  ({} flows, {} drops)",
        s.all.mean, s.short.mean, s.long.mean, s.all.p99, s.all.completed, s.drops
    );
    assert_eq!(
        s.all.completed, flows as u64,
        "{proto} {sizes}: unfinished flows"
    );
    s
}

fn phost_close_to_pfabric(sizes: &str, flows: u32) {
    let ideal = run("ideal", sizes, flows, 3);
    let pf = run("pfabric", sizes, flows, 3);
    let ph = run("phost", sizes, flows, 3);
    let ratio = ph.all.mean / pf.all.mean;
    println!("{sizes}: pHost / pFabric mean slowdown = {ratio:.3}");
    assert!(
        ratio < 1.2,
        "{sizes}: pHost {:.3} vs pFabric {:.3}",
        ph.all.mean,
        pf.all.mean
    );
    assert!(ideal.all.mean <= pf.all.mean && ideal.all.mean <= ph.all.mean);
}

#[test]
fn phost_within_20_percent_of_pfabric_on_websearch() {
    phost_close_to_pfabric("websearch", 2000);
}

#[test]
fn phost_within_20_percent_of_pfabric_on_datamining() {
    // Datamining has flows of up to 1 GB: fewer flows keep the test short.
    phost_close_to_pfabric("datamining", 1000);
}

#[test]
fn phost_within_20_percent_of_pfabric_on_imc10() {
    phost_close_to_pfabric("imc10", 2000);
}

#[test]
fn fastpass_short_flows_are_clearly_slower() {
    // Every Fastpass flow first waits for its request to reach the arbiter,
    // for the next epoch and for one epoch of lead time (about 10-20 us),
    // which dominates short flows' completion times.
    for (sizes, flows) in [("imc10", 2000), ("websearch", 1000)] {
        let pf = run("pfabric", sizes, flows, 3);
        let ph = run("phost", sizes, flows, 3);
        let fp = run("fastpass", sizes, flows, 3);
        assert!(
            fp.short.mean > 2.0 * pf.short.mean,
            "{sizes}: {} vs pFabric {}",
            fp.short.mean,
            pf.short.mean
        );
        assert!(
            fp.short.mean > 2.0 * ph.short.mean,
            "{sizes}: {} vs pHost {}",
            fp.short.mean,
            ph.short.mean
        );
    }
}
