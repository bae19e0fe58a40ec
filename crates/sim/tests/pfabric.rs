//! pFabric: lone flows at exactly OPT, loss recovery, probe mode, and
//! preemption of a long flow by a short one.

mod common;
use common::*;
use ddclab_sim::packet::PacketKind;
use ddclab_sim::units::Picos;
use std::sync::{Arc, Mutex};

#[test]
fn lone_flow_fct_is_exactly_opt() {
    // The initial window of 12 packets exceeds the BDP of these networks, so
    // a lone flow goes at line rate from the first packet to the last.
    for topo in ["leaf-spine", "big-switch"] {
        for switching in ["store-and-forward", "cut-through"] {
            for size in [1u64, 1460, 14_600, 100_000, 1_000_000] {
                let text = format!(
                    "[topology]\nkind = \"{topo}\"\nhosts = 32\nswitching = \"{switching}\"\n[transport]\nprotocol = \"pfabric\"\n"
                );
                let out = run_flows(&text, vec![flow(0, 21, size, 500)]);
                let r = &out.records[0];
                assert_eq!(r.fct, Some(r.opt), "{topo} {switching} size {size}");
                assert_eq!(r.retransmits, 0);
            }
        }
    }
}

#[test]
fn every_flow_completes_under_forced_losses() {
    // Every 7th packet leaving any host is lost: data, acks and probes alike.
    let text =
        "[topology]\nkind = \"big-switch\"\nhosts = 8\n[transport]\nprotocol = \"pfabric\"\n";
    let flows: Vec<_> = (0..40u32)
        .map(|i| {
            flow(
                i % 8,
                (i * 3 + 1) % 8,
                1000 + (i as u64 * 7919) % 300_000,
                i as u64 * 2000,
            )
        })
        .collect();
    let flows: Vec<_> = flows
        .into_iter()
        .map(|mut f| {
            if f.src == f.dst {
                f.dst.0 = (f.dst.0 + 1) % 8;
            }
            f
        })
        .collect();
    let mut sim = prepare(text, flows);
    lose_every(&mut sim, 7);
    assert_recovered(&finish(sim));
}

#[test]
fn a_starved_flow_probes_with_headers_then_recovers() {
    // Everything the flow sends is lost for the first 2 ms (about 44 RTOs of
    // 45 us). After 5 consecutive timeouts it must only send header-only
    // probes, one per RTO, and finish soon after the loss stops.
    let text =
        "[topology]\nkind = \"big-switch\"\nhosts = 2\n[transport]\nprotocol = \"pfabric\"\n";
    let mut sim = prepare(text, vec![flow(0, 1, 100 * 1460, 0)]);
    let log = Arc::new(Mutex::new((0u32, 0u32)));
    let l = log.clone();
    let blackout = Picos::from_us(2000);
    sim.world_mut().loss = Some(Box::new(move |p, now| {
        if now >= blackout || p.src.0 != 0 {
            return false;
        }
        let mut g = l.lock().unwrap();
        match p.kind {
            PacketKind::Data => g.0 += 1,
            _ => g.1 += 1,
        }
        true
    }));
    let out = finish(sim);
    let (data, probes) = *log.lock().unwrap();
    // The initial window, one retransmission per timeout before probe mode.
    assert!(data <= 12 + 5, "sent {data} data packets into the blackout");
    assert!(probes >= 30, "only {probes} probes in 2 ms");
    let fct = out.records[0].fct.unwrap();
    assert!(
        fct > blackout && fct < blackout + Picos::from_us(45 * 3 + 200),
        "{fct:?}"
    );
}

#[test]
fn a_short_flow_preempts_a_long_one() {
    // A long flow saturates the link to host 2; a short flow to the same host
    // arrives later and, being more urgent everywhere, barely notices it.
    let text =
        "[topology]\nkind = \"big-switch\"\nhosts = 3\n[transport]\nprotocol = \"pfabric\"\n";
    let out = run_flows(
        text,
        vec![flow(0, 2, 5_000_000, 0), flow(1, 2, 20 * 1460, 100_000)],
    );
    let short = &out.records[1];
    assert!(
        short.slowdown < 1.3,
        "short flow slowdown {}",
        short.slowdown
    );
    // The long flow loses only about the short flow's transfer time.
    let long = &out.records[0];
    assert!(long.slowdown < 1.02, "long flow slowdown {}", long.slowdown);
}
