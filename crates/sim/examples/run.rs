//! Run a scenario file and print its summary (a developer tool; users run
//! `ddclab sim run`). `cargo run --release -p ddclab-sim --example run -- FILE [key=value...]`

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: run SCENARIO [key=value...]");
    let overrides: Vec<String> = args.collect();
    let text = std::fs::read_to_string(&path).expect("read scenario");
    let (sc, warnings) =
        ddclab_sim::Scenario::from_toml(&text, &path, &overrides).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2)
        });
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let out = ddclab_sim::run(sc, None).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let s = &out.summary;
    println!("flows {} completed {}", s.all.count, s.all.completed);
    println!(
        "slowdown mean {:.3} median {:.3} p99 {:.3}",
        s.all.mean, s.all.median, s.all.p99
    );
    println!(
        "short mean {:.3} p99 {:.3} | long mean {:.3}",
        s.short.mean, s.short.p99, s.long.mean
    );
    println!(
        "throughput {:.2} Gbps, drops {} {:?}, retransmissions {} timeouts {} fast-retx {}",
        s.throughput_gbps,
        s.drops,
        s.drops_by_hop,
        s.retransmissions,
        s.timeouts,
        s.fast_retransmits
    );
    println!(
        "events {} pkt-hops {} wall {:.2}s end {:.1}us peak events {} peak packets {}",
        out.stats.events,
        out.stats.packet_hops,
        out.stats.wall_seconds,
        out.stats.end_time.as_us_f64(),
        out.stats.peak_events,
        out.stats.peak_live_packets
    );
    // A digest of every flow record and port counter, to check that an engine
    // change is exactly behaviour-preserving (compare before and after).
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for r in &out.records {
        std::hash::Hash::hash(&format!("{r:?}"), &mut h);
    }
    for p in &out.ports {
        std::hash::Hash::hash(
            &(p.tx_packets, p.tx_bytes, p.drops, p.max_queue_bytes),
            &mut h,
        );
        std::hash::Hash::hash(&p.mean_queue_bytes.to_bits(), &mut h);
    }
    println!("digest {:016x}", std::hash::Hasher::finish(&h));
    for w in out.warnings {
        println!("warning: {w}");
    }
}
