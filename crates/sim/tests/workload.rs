//! Workload generation matches its specification.

mod common;
use common::*;
use ddclab_sim::network::{Network, QueueSpec};
use ddclab_sim::rng::Rng;
use ddclab_sim::scenario::QueueKind;
use ddclab_sim::workload::{self, EmpiricalCdf};
use proptest::prelude::*;

/// The network of a scenario (only its parameters matter to the workload).
fn network(sc: &ddclab_sim::Scenario) -> Network {
    let qs = QueueSpec {
        kind: QueueKind::DropTail,
        switch_buffer: 1 << 20,
        host_buffer: u64::MAX,
        ecn_k: None,
        levels: 1,
        nic_pulls: false,
    };
    Network::new(&sc.topology, &qs)
}

/// Sampled sizes follow the interpolated CDF: the fraction of samples at or
/// below each integer size x is F(x + 0.5), since samples are rounded.
fn check_sampling(cdf: &EmpiricalCdf, seed: u64) {
    let n = 40_000;
    let mut rng = Rng::new(seed);
    let mut samples: Vec<u64> = (0..n).map(|_| cdf.sample_packets(&mut rng)).collect();
    samples.sort_unstable();
    let lo = cdf.points()[0].0;
    let hi = cdf.points().last().unwrap().0;
    for &(x, _) in cdf.points() {
        let x = x.floor();
        // Samples that round to 0 packets are raised to 1, so nothing is <= 0.
        let expect = if x < 1.0 { 0.0 } else { cdf.cdf(x + 0.5) };
        let got = samples.partition_point(|&s| s as f64 <= x) as f64 / n as f64;
        assert!(
            (got - expect).abs() < 0.015,
            "at {x}: sampled {got}, CDF {expect}"
        );
    }
    assert!(samples[0] as f64 >= lo.round().max(1.0) - 0.5);
    assert!(*samples.last().unwrap() as f64 <= hi.round());
}

#[test]
fn builtin_distributions_sample_as_published() {
    for (name, _) in workload::cdf::BUILTIN {
        check_sampling(&EmpiricalCdf::builtin(name).unwrap(), 11);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_cdfs_sample_as_specified(
        steps in prop::collection::vec((1u32..500, 1u32..100), 1..8),
        seed in 0u64..1000,
    ) {
        // Build a valid CDF: increasing sizes, increasing probabilities ending at 1.
        let total: u32 = steps.iter().map(|s| s.1).sum();
        let mut size = 1u32;
        let mut acc = 0u32;
        let mut text = String::from("1 1 0\n");
        for (ds, dp) in &steps {
            size += ds;
            acc += dp;
            text.push_str(&format!("{size} 1 {}\n", acc as f64 / total as f64));
        }
        let cdf = EmpiricalCdf::parse(&text, "random.cdf").unwrap();
        check_sampling(&cdf, seed);
    }
}

#[test]
fn poisson_arrivals_hit_the_target_load() {
    for (sizes, load) in [("websearch", 0.6), ("imc10", 0.3), ("datamining", 0.8)] {
        let text =
            format!("seed = 3\n[workload]\nsizes = \"{sizes}\"\nload = {load}\nflows = 60000\n");
        let sc = scenario(&text);
        let net = network(&sc);
        let flows = workload::poisson(&sc, &net.params).unwrap();
        let wire: f64 = flows
            .iter()
            .map(|f| workload::wire_bytes(&net.params, f.size) as f64)
            .sum();
        let span = (flows.last().unwrap().start - flows[0].start).0 as f64 / 1e12;
        let offered = wire * 8.0 / span / (144.0 * 10e9);
        // Heavy-tailed sizes converge slowly; data mining most of all.
        let tol = if sizes == "datamining" { 0.2 } else { 0.05 };
        assert!(
            (offered / load - 1.0).abs() < tol,
            "{sizes}: offered {offered} for target {load}"
        );
        assert!(flows.windows(2).all(|w| w[0].start <= w[1].start));
        assert!(flows.iter().all(|f| f.src != f.dst && f.size > 0));
    }
}

#[test]
fn bimodal_sizes_and_fractions() {
    let text = "[workload]\nsizes = \"bimodal\"\nbimodal = { short = 3, long = 700, short_fraction = 0.8 }\nflows = 20000\n";
    let sc = scenario(text);
    let net = network(&sc);
    let flows = workload::poisson(&sc, &net.params).unwrap();
    let short = flows.iter().filter(|f| f.size == 3 * 1460).count() as f64 / flows.len() as f64;
    assert!(flows
        .iter()
        .all(|f| f.size == 3 * 1460 || f.size == 700 * 1460));
    assert!((short - 0.8).abs() < 0.01, "{short}");
}

#[test]
fn incast_matrix_makes_synchronized_groups() {
    let text = "[workload]\nmatrix = \"incast\"\nincast_senders = 10\nincast_response = \"20KB\"\nflows = 100\n";
    let sc = scenario(text);
    let net = network(&sc);
    let flows = workload::poisson(&sc, &net.params).unwrap();
    assert_eq!(flows.len(), 100);
    for group in flows.chunks(10) {
        assert!(group
            .iter()
            .all(|f| f.start == group[0].start && f.dst == group[0].dst && f.size == 20_000));
        let mut srcs: Vec<u32> = group.iter().map(|f| f.src.0).collect();
        srcs.sort();
        srcs.dedup();
        assert_eq!(srcs.len(), 10);
    }
}

#[test]
fn tenants_with_their_own_size_distributions() {
    let text = "[workload]\ntenant_sizes = [\"imc10\", \"websearch\"]\nflows = 40000\n";
    let sc = scenario(text);
    let net = network(&sc);
    let flows = workload::poisson(&sc, &net.params).unwrap();
    let stats = |t: u32| {
        let v: Vec<f64> = flows
            .iter()
            .filter(|f| f.tenant == t)
            .map(|f| f.size as f64)
            .collect();
        (v.len(), v.iter().sum::<f64>())
    };
    let (n0, b0) = stats(0);
    let (n1, b1) = stats(1);
    assert_eq!(n0 + n1, 40_000);
    // IMC10 flows are far smaller, so that tenant sends many more of them...
    assert!(n0 > 5 * n1, "{n0} imc10 flows vs {n1} websearch flows");
    // ...and the two offer about the same bytes (heavy tails converge slowly).
    assert!((b0 / b1 - 1.0).abs() < 0.25, "bytes {b0} vs {b1}");
    assert!(flows
        .iter()
        .filter(|f| f.tenant == 0)
        .all(|f| f.size <= 2107 * 1460));
}
