//! Invariant: a flow alone in the network completes in exactly OPT, for any
//! size, link speed, topology and switching mode, when its transport sends at
//! line rate (TCP with an initial window larger than the flow).

mod common;
use common::*;

#[test]
fn lone_flow_fct_equals_opt_exactly() {
    let sizes = [
        1u64, 100, 1460, 1461, 4096, 10_000, 100_000, 1_000_000, 3_333_333,
    ];
    let mut checked = 0;
    for topo in ["leaf-spine", "fat-tree", "big-switch"] {
        for rate in ["10Gbps", "25Gbps", "40Gbps", "100Gbps", "400Gbps"] {
            for switching in ["store-and-forward", "cut-through"] {
                for (i, &size) in sizes.iter().enumerate() {
                    let text = format!(
                        "[topology]\nkind = \"{topo}\"\nk = 8\nhosts = 64\nhost_rate = \"{rate}\"\nswitching = \"{switching}\"\nswitch_delay = \"{}ns\"\nbuffer = \"10MB\"\n[transport]\nprotocol = \"tcp\"\ninit_window = 100000\n",
                        (i % 3) * 50
                    );
                    // A different rack (or pod) each time, and one same-rack pair.
                    let dst = if i == 0 { 1 } else { 15 + i as u32 };
                    let out = run_flows(&text, vec![flow(0, dst, size, 1000)]);
                    let r = &out.records[0];
                    assert_eq!(
                        r.fct,
                        Some(r.opt),
                        "{topo} {rate} {switching} size {size}: fct {:?} opt {:?}",
                        r.fct,
                        r.opt
                    );
                    assert_eq!(r.slowdown, 1.0);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 3 * 5 * 2 * sizes.len());
}

#[test]
fn opt_matches_hand_computation() {
    // 10 Gbps hosts, 40 Gbps fabric, 200 ns links, store-and-forward, one
    // 1500 B packet across racks: 1.2 us + 0.3 + 0.3 + 1.2 us serialization
    // plus 4 x 200 ns propagation = 3.8 us.
    let out = run_flows(
        "[transport]\nprotocol = \"tcp\"\n",
        vec![flow(0, 20, 1460, 0)],
    );
    assert_eq!(out.records[0].opt.0, 3_800_000);
    // Two packets: the second is 1.2 us behind at the bottleneck.
    let out = run_flows(
        "[transport]\nprotocol = \"tcp\"\n",
        vec![flow(0, 20, 2920, 0)],
    );
    assert_eq!(out.records[0].opt.0, 5_000_000);
    // Cut-through: the first packet's header moves on after 32 ns at 10G.
    let out = run_flows(
        "[topology]\nswitching = \"cut-through\"\n[transport]\nprotocol = \"tcp\"\n",
        vec![flow(0, 1, 1460, 0)],
    );
    // The ToR starts forwarding once the 40 B header is in (32 ns + 200 ns
    // after the host starts), then 1.2 us of serialization and 200 ns more.
    assert_eq!(out.records[0].opt.0, 32_000 + 200_000 + 1_200_000 + 200_000);
}
