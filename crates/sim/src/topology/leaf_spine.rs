//! The two-tier leaf-spine of the pFabric and pHost evaluations: `racks` ToR
//! switches with `hosts_per_rack` hosts each, every ToR linked to every spine.

use super::{Hop, Link, Topology};
use crate::units::BitsPerSec;

pub fn build(
    racks: u32,
    hosts_per_rack: u32,
    spines: u32,
    host: BitsPerSec,
    fabric: BitsPerSec,
) -> Topology {
    let hosts = racks * hosts_per_rack;
    let tor = |r: u32| hosts + r;
    let spine = |s: u32| hosts + racks + s;
    let mut links = Vec::new();
    for h in 0..hosts {
        links.push(Link {
            a: h,
            b: tor(h / hosts_per_rack),
            rate: host,
            hop_ab: Hop::HostNic,
            hop_ba: Hop::TorDown,
        });
    }
    for r in 0..racks {
        for s in 0..spines {
            links.push(Link {
                a: tor(r),
                b: spine(s),
                rate: fabric,
                hop_ab: Hop::TorUp,
                hop_ba: Hop::Spine,
            });
        }
    }
    Topology {
        hosts,
        switches: racks + spines,
        links,
        hops: vec![Hop::HostNic, Hop::TorUp, Hop::Spine, Hop::TorDown],
    }
}
