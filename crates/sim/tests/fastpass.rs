//! Fastpass: one packet per source and per destination per timeslot,
//! sending only in allocated slots, and loss recovery.

mod common;
use common::*;
use ddclab_sim::packet::PacketKind;
use ddclab_sim::units::{BitsPerSec, Picos};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[test]
fn at_most_one_packet_per_source_and_per_destination_per_timeslot() {
    let text = "seed = 4\n[transport]\nprotocol = \"fastpass\"\n[workload]\nsizes = \"imc10\"\nflows = 1500\nload = 0.7\n";
    let mut sim = ddclab_sim::Simulation::new(scenario(text), None, Vec::new()).unwrap();
    let slot = BitsPerSec::gbps(10).tx_time(1540).0;
    let seen = Arc::new(Mutex::new((
        HashSet::new(),
        HashSet::new(),
        Vec::<String>::new(),
        0u64,
    )));
    let s = seen.clone();
    sim.world_mut().loss = Some(Box::new(move |p, now| {
        if p.kind == PacketKind::Data {
            let mut g = s.lock().unwrap();
            g.3 += 1;
            let ts = now.0 / slot;
            if now.0 % slot != 0 || p.aux as u64 != ts {
                g.2.push(format!(
                    "flow {} seq {} sent at {:?}, not at the start of its slot {}",
                    p.flow.0, p.seq, now, p.aux
                ));
            }
            if !g.0.insert((ts, p.src.0)) {
                g.2.push(format!("two packets from host {} in slot {ts}", p.src.0));
            }
            if !g.1.insert((ts, p.dst.0)) {
                g.2.push(format!("two packets to host {} in slot {ts}", p.dst.0));
            }
        }
        false
    }));
    sim.run_to_end();
    let out = sim.finish();
    let g = seen.lock().unwrap();
    assert!(
        g.2.is_empty(),
        "{} violations, first: {:?}",
        g.2.len(),
        &g.2[..g.2.len().min(5)]
    );
    assert_eq!(out.summary.all.completed, 1500);
    assert!(g.3 > 10_000);
    // Zero-queue: with every receiver taking one packet per slot, nothing
    // queues at the receivers' ToR ports.
    let tor_down = out
        .summary
        .drops_by_hop
        .iter()
        .find(|h| h.0 == "tor_down")
        .unwrap()
        .1;
    assert_eq!(tor_down, 0);
}

#[test]
fn every_flow_completes_under_forced_losses() {
    // Every 5th packet leaving a host is lost: requests, allocations, data, acks.
    let text = "seed = 2\n[topology]\nkind = \"big-switch\"\nhosts = 10\n[transport]\nprotocol = \"fastpass\"\nfastpass_arbiter = 9\n[workload]\nsizes = \"websearch\"\nflows = 40\nload = 0.5\n";
    let mut sim = ddclab_sim::Simulation::new(scenario(text), None, Vec::new()).unwrap();
    lose_every(&mut sim, 5);
    sim.run_to_end();
    assert_recovered(&sim.finish());
}

#[test]
fn lone_flow_waits_for_the_arbiter_then_runs_at_line_rate() {
    let text = "[transport]\nprotocol = \"fastpass\"\n";
    let epoch = BitsPerSec::gbps(10).tx_time(1540).mul(8);
    for size in [1460u64, 14_600, 1_000_000] {
        let out = run_flows(text, vec![flow(3, 100, size, 0)]);
        let r = &out.records[0];
        let fct = r.fct.unwrap();
        // The request, the wait for the next epoch, one epoch of lead time.
        assert!(
            fct > r.opt + epoch,
            "size {size}: {fct:?} vs opt {:?}",
            r.opt
        );
        // Slots are 1540 B long for 1500 B packets.
        assert!(
            fct < r.opt.scale(1540, 1500) + epoch.mul(3),
            "size {size}: {fct:?} vs opt {:?}",
            r.opt
        );
    }
    // Alone, a long flow gets every slot (of 1540 B: 2.7% longer than an MTU).
    let out = run_flows(text, vec![flow(3, 100, 10_000_000, 0)]);
    assert!(
        out.records[0].slowdown < 1.04,
        "{}",
        out.records[0].slowdown
    );
    let _ = Picos::ZERO;
}
