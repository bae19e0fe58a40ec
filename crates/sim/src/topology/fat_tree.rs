//! The k-ary fat-tree (Al-Fares et al.): k pods of k/2 edge and k/2
//! aggregation switches, (k/2)^2 core switches, k^3/4 hosts.

use super::{Hop, Link, Topology};
use crate::units::BitsPerSec;

pub fn build(k: u32, host: BitsPerSec, fabric: BitsPerSec) -> Topology {
    let half = k / 2;
    let hosts = k * k * k / 4;
    let edges = k * half;
    let aggs = k * half;
    let cores = half * half;
    let edge = |pod: u32, i: u32| hosts + pod * half + i;
    let agg = |pod: u32, i: u32| hosts + edges + pod * half + i;
    let core = |i: u32| hosts + edges + aggs + i;
    let mut links = Vec::new();
    for h in 0..hosts {
        let pod = h / (half * half);
        let e = (h / half) % half;
        links.push(Link {
            a: h,
            b: edge(pod, e),
            rate: host,
            hop_ab: Hop::HostNic,
            hop_ba: Hop::TorDown,
        });
    }
    for pod in 0..k {
        for e in 0..half {
            for a in 0..half {
                links.push(Link {
                    a: edge(pod, e),
                    b: agg(pod, a),
                    rate: fabric,
                    hop_ab: Hop::TorUp,
                    hop_ba: Hop::AggDown,
                });
            }
        }
        // Aggregation switch i of each pod connects to cores i*half .. i*half+half-1.
        for a in 0..half {
            for c in 0..half {
                links.push(Link {
                    a: agg(pod, a),
                    b: core(a * half + c),
                    rate: fabric,
                    hop_ab: Hop::AggUp,
                    hop_ba: Hop::Spine,
                });
            }
        }
    }
    Topology {
        hosts,
        switches: edges + aggs + cores,
        links,
        hops: vec![
            Hop::HostNic,
            Hop::TorUp,
            Hop::AggUp,
            Hop::Spine,
            Hop::AggDown,
            Hop::TorDown,
        ],
    }
}
