//! Delayed acknowledgements (`transport.delayed_ack`): fewer acks, the
//! timeout path, immediate acks for losses, and DCTCP's exact marking.

mod common;
use common::*;
use ddclab_sim::packet::PacketKind;
use ddclab_sim::units::Picos;
use ddclab_sim::SimOutput;

fn two_hosts(proto: &str, extra: &str) -> String {
    format!("[topology]\nkind = \"big-switch\"\nhosts = 2\n[transport]\nprotocol = \"{proto}\"\n{extra}")
}

/// Acks sent: host 1 only receives, so its NIC carries nothing but acks.
fn acks_from_host_1(out: &SimOutput) -> u64 {
    out.ports.iter().find(|p| p.node == 1).unwrap().tx_packets
}

#[test]
fn every_second_packet_is_acknowledged() {
    let n = 1000u64;
    for proto in ["tcp", "dctcp"] {
        let at_once = run_flows(&two_hosts(proto, ""), vec![flow(0, 1, n * 1460, 0)]);
        let delayed = run_flows(
            &two_hosts(proto, "delayed_ack = \"40us\"\n"),
            vec![flow(0, 1, n * 1460, 0)],
        );
        assert_eq!(acks_from_host_1(&at_once), n, "{proto}: one ack per packet");
        let acks = acks_from_host_1(&delayed);
        // DCTCP also acks at once when the CE mark changes (the sender's
        // own NIC queue marks here), a few dozen times in this flow.
        let extra = if proto == "dctcp" { 60 } else { 10 };
        assert!(
            acks >= n / 2 && acks <= n / 2 + extra,
            "{proto}: {acks} acks for {n} packets"
        );
        assert!(delayed.records[0].finish.is_some());
    }
}

#[test]
fn a_lone_pending_ack_waits_for_the_timeout() {
    // With a window of one packet the sender waits for each ack, so the
    // first ack (for a packet with no partner) is late by exactly the timeout;
    // the second packet completes the flow and is acknowledged at once.
    let base = "init_window = 1\n";
    let fct = |extra: &str| {
        let out = run_flows(
            &two_hosts("tcp", &format!("{base}{extra}")),
            vec![flow(0, 1, 2 * 1460, 0)],
        );
        out.records[0].fct.unwrap()
    };
    let at_once = fct("");
    let delayed = fct("delayed_ack = \"25us\"\n");
    assert_eq!(delayed, at_once + Picos::from_us(25));
}

#[test]
fn losses_are_still_repaired_by_fast_retransmit() {
    let text = two_hosts("tcp", "min_rto = \"10ms\"\ndelayed_ack = \"200us\"\n");
    let mut sim = prepare(&text, vec![flow(0, 1, 200 * 1460, 0)]);
    let mut dropped = false;
    sim.world_mut().loss = Some(Box::new(move |p, _| {
        if p.kind == PacketKind::Data && p.seq == 50 && !p.retransmit && !dropped {
            dropped = true;
            return true;
        }
        false
    }));
    let out = finish(sim);
    let r = &out.records[0];
    assert_eq!(r.retransmits, 1);
    assert_eq!(out.summary.fast_retransmits, 1);
    assert_eq!(out.summary.timeouts, 0);
    // Out-of-order packets are acknowledged at once: no 200 us waits, no
    // 10 ms timeout.
    assert!(r.fct.unwrap() < Picos::from_us(1000), "{:?}", r.fct);
}

#[test]
fn every_flow_completes_under_random_loss() {
    for proto in ["tcp", "dctcp"] {
        let out = run_under_random_loss(proto, "delayed_ack = \"20us\"\n", 4);
        assert!(out.records.iter().all(|r| r.finish.is_some()), "{proto}");
    }
}

#[test]
fn dctcp_still_holds_the_queue_near_k() {
    let k = 20.0;
    let text = format!(
        "[topology]\nkind = \"big-switch\"\nhosts = 3\nbuffer = \"600KB\"\n[transport]\nprotocol = \"dctcp\"\necn_k = {k}\nmin_rto = \"1ms\"\ndelayed_ack = \"40us\"\n"
    );
    let out = run_flows(
        &text,
        vec![flow(0, 2, 30_000_000, 0), flow(1, 2, 30_000_000, 0)],
    );
    let port = out.ports.iter().find(|p| p.peer == 2).unwrap();
    let mean = port.mean_queue_bytes / 1500.0;
    assert!(
        mean > 0.5 * k && mean < 2.0 * k,
        "mean queue {mean} packets, K = {k}"
    );
    assert_eq!(port.drops, 0);
    assert!(out.records.iter().all(|r| r.finish.is_some()));
}

#[test]
fn only_tcp_and_dctcp_take_it() {
    let text = "[transport]\nprotocol = \"phost\"\ndelayed_ack = \"10us\"\n";
    let err = ddclab_sim::Scenario::from_toml(text, "t.toml", &[])
        .map(|_| ())
        .expect_err("pHost with delayed acks must be refused")
        .to_string();
    assert!(err.contains("transport.delayed_ack"), "{err}");
}
