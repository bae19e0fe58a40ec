//! Behavioural invariants of the network and of TCP and DCTCP.

mod common;
use common::*;
use ddclab_sim::packet::PacketKind;
use ddclab_sim::units::Picos;

const BIG_SWITCH_3: &str = "[topology]\nkind = \"big-switch\"\nhosts = 3\n";

#[test]
fn two_long_flows_share_a_bottleneck_equally() {
    for proto in ["tcp", "dctcp"] {
        let text = format!(
            "{BIG_SWITCH_3}buffer = \"100KB\"\n[transport]\nprotocol = \"{proto}\"\necn_k = 20\n"
        );
        let size = 30_000_000;
        let out = run_flows(&text, vec![flow(0, 2, size, 0), flow(1, 2, size, 0)]);
        // Alone, each would take OPT (24 ms at 10 Gbps). While both are
        // active, the first to finish got 1 / its slowdown of the link.
        let first = out
            .records
            .iter()
            .map(|r| r.slowdown)
            .fold(f64::INFINITY, f64::min);
        let share = 1.0 / first;
        assert!((0.4..0.6).contains(&share), "{proto}: share {share}");
        let f = |i: usize| out.records[i].fct.unwrap().0 as f64;
        let ratio = f(0) / f(1);
        assert!((0.8..1.25).contains(&ratio), "{proto}: FCT ratio {ratio}");
        // The bottleneck stays busy: the pair finishes near 2 x OPT.
        let last = f(0).max(f(1));
        let opt = out.records[0].opt.0 as f64;
        assert!(last < 2.1 * opt, "{proto}: {last} vs 2 x {opt}");
    }
}

#[test]
fn drop_tail_drops_exactly_at_the_buffer_limit() {
    // Ten hosts blast 30 packets each at one receiver through a 10-packet
    // buffer (TCP with a huge initial window: no congestion control). The
    // switch's output port can never hold more than 10 packets waiting.
    let text = "[topology]\nkind = \"big-switch\"\nhosts = 11\nbuffer = 15000\n[transport]\nprotocol = \"tcp\"\ninit_window = 1000\n";
    let flows: Vec<_> = (0..10).map(|s| flow(s, 10, 30 * 1460, 0)).collect();
    let out = run_flows(text, flows);
    let down = out.ports.iter().find(|p| p.peer == 10).unwrap();
    assert_eq!(
        down.max_queue_bytes, 15000,
        "the buffer fills exactly to its limit"
    );
    assert!(down.drops > 0);
    // Everything still completes (timeouts recover the losses).
    assert!(out.records.iter().all(|r| r.finish.is_some()));
    // One more byte of buffer admits nothing more: packets are 1500 B.
    let out2 = run_flows(
        &text.replace("buffer = 15000", "buffer = 15001"),
        (0..10).map(|s| flow(s, 10, 30 * 1460, 0)).collect(),
    );
    let down2 = out2.ports.iter().find(|p| p.peer == 10).unwrap();
    assert_eq!(down2.max_queue_bytes, 15000);
}

#[test]
fn tcp_recovers_a_lost_packet_by_fast_retransmit() {
    for sack in [true, false] {
        let text = format!("[topology]\nkind = \"big-switch\"\nhosts = 2\n[transport]\nprotocol = \"tcp\"\nmin_rto = \"10ms\"\nsack = {sack}\n");
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
        assert!(r.finish.is_some());
        assert_eq!(
            r.retransmits, 1,
            "sack={sack}: exactly the lost packet is resent"
        );
        // No timeout: a 10 ms RTO would dominate the FCT.
        assert!(r.fct.unwrap() < Picos::from_us(2000), "{:?}", r.fct);
        assert_eq!(out.summary.timeouts, 0);
        assert_eq!(out.summary.fast_retransmits, 1);
    }
}

#[test]
fn sack_recovers_many_losses_in_one_window_without_a_timeout() {
    // Every 5th packet of the first 100 vanishes: NewReno would need one
    // round trip per hole; SACK repairs them all in about one.
    let text = "[topology]\nkind = \"big-switch\"\nhosts = 2\n[transport]\nprotocol = \"tcp\"\nmin_rto = \"10ms\"\ninit_window = 100\n";
    let mut sim = prepare(text, vec![flow(0, 1, 300 * 1460, 0)]);
    sim.world_mut().loss = Some(Box::new(|p, _| {
        p.kind == PacketKind::Data && !p.retransmit && p.seq < 100 && p.seq % 5 == 0
    }));
    let out = finish(sim);
    let r = &out.records[0];
    assert_eq!(r.retransmits, 20, "only the 20 lost packets are resent");
    assert_eq!(out.summary.timeouts, 0);
    assert!(r.fct.unwrap() < Picos::from_us(1000), "{:?}", r.fct);
}

#[test]
fn tcp_recovers_a_lost_tail_by_timeout() {
    let text = "[topology]\nkind = \"big-switch\"\nhosts = 2\n[transport]\nprotocol = \"tcp\"\nmin_rto = \"300us\"\n";
    let n = 20;
    let mut sim = prepare(text, vec![flow(0, 1, n * 1460, 0)]);
    let mut dropped = false;
    sim.world_mut().loss = Some(Box::new(move |p, _| {
        // The last packet: no later packet can produce duplicate acks.
        if p.kind == PacketKind::Data && p.seq == (n - 1) as u32 && !dropped {
            dropped = true;
            return true;
        }
        false
    }));
    let out = finish(sim);
    let r = &out.records[0];
    assert!(r.finish.is_some());
    assert!(r.retransmits >= 1);
    // Recovery waited for the retransmission timeout.
    assert!(r.fct.unwrap() >= Picos::from_us(300), "{:?}", r.fct);
    assert!(r.fct.unwrap() < Picos::from_us(700), "{:?}", r.fct);
}

#[test]
fn every_flow_completes_under_random_loss() {
    for proto in ["tcp", "dctcp"] {
        // 2% of every packet, data and acks, vanish.
        let out = run_under_random_loss(proto, "", 9);
        assert!(
            out.records.iter().all(|r| r.finish.is_some()),
            "{proto}: {:?}",
            out.warnings
        );
        assert!(out.summary.retransmissions > 0);
    }
}

#[test]
fn dctcp_holds_the_queue_near_k_while_tcp_fills_the_buffer() {
    let k = 20.0;
    let run = |proto: &str| {
        let text = format!(
            "{BIG_SWITCH_3}buffer = \"600KB\"\n[transport]\nprotocol = \"{proto}\"\necn_k = {k}\nmin_rto = \"1ms\"\n"
        );
        let out = run_flows(
            &text,
            vec![flow(0, 2, 30_000_000, 0), flow(1, 2, 30_000_000, 0)],
        );
        let port = out.ports.iter().find(|p| p.peer == 2).unwrap().clone();
        (
            port.mean_queue_bytes / 1500.0,
            port.max_queue_bytes as f64 / 1500.0,
            port.drops,
        )
    };
    let (dctcp_mean, dctcp_max, dctcp_drops) = run("dctcp");
    let (tcp_mean, tcp_max, tcp_drops) = run("tcp");
    assert!(
        dctcp_mean > 0.5 * k && dctcp_mean < 2.0 * k,
        "DCTCP mean queue {dctcp_mean} packets, K = {k}"
    );
    assert!(dctcp_max < 4.0 * k, "DCTCP max queue {dctcp_max}");
    assert_eq!(dctcp_drops, 0);
    assert!(
        tcp_max >= 390.0,
        "TCP should fill the 400-packet buffer, max {tcp_max}"
    );
    assert!(tcp_drops > 0);
    assert!(
        tcp_mean > 5.0 * dctcp_mean,
        "TCP mean {tcp_mean} vs DCTCP {dctcp_mean}"
    );
}

#[test]
fn incast_finishes_in_the_aggregate_transfer_time() {
    // N senders each answer 64 KiB to one receiver at once. The receiver's
    // link is the bottleneck: the last response lands after about
    // N x (wire bytes of a response) / link rate.
    for n in [4u32, 8, 16] {
        let text = "[topology]\nkind = \"big-switch\"\nhosts = 17\nbuffer = \"4MB\"\n[transport]\nprotocol = \"dctcp\"\n";
        let size = 65_536u64;
        let flows: Vec<_> = (0..n).map(|s| flow(s, 16, size, 0)).collect();
        let out = run_flows(text, flows);
        let last = out.records.iter().map(|r| r.finish.unwrap()).max().unwrap();
        let wire = size + size.div_ceil(1460) * 40;
        let ideal = (n as u64 * wire * 8 * 1000) as f64 / 10.0; // ps at 10 Gbps
        let t = last.0 as f64;
        assert!(t >= ideal, "n={n}: {t} < {ideal}");
        assert!(t < ideal * 1.15 + 5e6, "n={n}: {t} vs ideal {ideal}");
    }
}

#[test]
fn same_seed_same_results_different_seed_different_results() {
    let text = "seed = 7\n[topology]\nhost_rate = \"40Gbps\"\n[transport]\nprotocol = \"dctcp\"\n[workload]\nflows = 300\nload = 0.7\n";
    let a = ddclab_sim::run(scenario(text), None).unwrap();
    let b = ddclab_sim::run(scenario(text), None).unwrap();
    assert_eq!(a.records, b.records);
    assert_eq!(a.pending, b.pending);
    let c = ddclab_sim::run(scenario(&text.replace("seed = 7", "seed = 8")), None).unwrap();
    assert_ne!(a.records, c.records);
}

#[test]
fn packet_spraying_and_ecmp_both_deliver_everything() {
    for routing in ["ecmp", "spray"] {
        let text = format!(
            "[topology]\nrouting = \"{routing}\"\nhost_rate = \"10Gbps\"\n[transport]\nprotocol = \"dctcp\"\n[workload]\nflows = 200\nload = 0.5\n"
        );
        let out = ddclab_sim::run(scenario(&text), None).unwrap();
        assert!(out.records.iter().all(|r| r.finish.is_some()), "{routing}");
        // Traffic actually spreads over all four spines.
        let spine_tx: Vec<u64> = out
            .ports
            .iter()
            .filter(|p| p.hop == "spine")
            .map(|p| p.tx_packets)
            .collect();
        assert!(
            spine_tx.iter().filter(|&&t| t > 0).count() >= 30,
            "{routing}: {spine_tx:?}"
        );
    }
}
