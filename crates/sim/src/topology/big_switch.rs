//! A single non-blocking switch joining every host: the network as one big
//! output-queued switch, where only the host links can congest.

use super::{Hop, Link, Topology};
use crate::units::BitsPerSec;

pub fn build(hosts: u32, host: BitsPerSec) -> Topology {
    let links = (0..hosts)
        .map(|h| Link {
            a: h,
            b: hosts,
            rate: host,
            hop_ab: Hop::HostNic,
            hop_ba: Hop::TorDown,
        })
        .collect();
    Topology {
        hosts,
        switches: 1,
        links,
        hops: vec![Hop::HostNic, Hop::TorDown],
    }
}
