//! Topologies: which nodes exist and which links join them.
//!
//! A builder returns a [`Topology`]: hosts are nodes `0..hosts`, switches
//! follow. Every link is full duplex; each direction becomes one output port
//! in the [`crate::network::Network`], tagged with the [`Hop`] it represents so
//! drops can be reported by where they happen.

mod big_switch;
mod fat_tree;
mod leaf_spine;
pub mod routing;

use crate::scenario::{TopologyConfig, TopologyKind};
use crate::units::BitsPerSec;

/// Where in the network a port sits, for drop accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hop {
    /// Host NIC towards its top-of-rack (edge) switch.
    HostNic,
    /// ToR (edge) switch towards the fabric.
    TorUp,
    /// Aggregation switch towards the core (fat-tree only).
    AggUp,
    /// Spine (core) switch towards a ToR or aggregation switch.
    Spine,
    /// Aggregation switch towards a ToR (fat-tree only).
    AggDown,
    /// ToR (edge) switch towards a host.
    TorDown,
}

impl Hop {
    pub const ALL: [Hop; 6] = [
        Hop::HostNic,
        Hop::TorUp,
        Hop::AggUp,
        Hop::Spine,
        Hop::AggDown,
        Hop::TorDown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Hop::HostNic => "host_nic",
            Hop::TorUp => "tor_up",
            Hop::AggUp => "agg_up",
            Hop::Spine => "spine",
            Hop::AggDown => "agg_down",
            Hop::TorDown => "tor_down",
        }
    }
}

/// One full-duplex link between nodes `a` and `b`.
#[derive(Clone, Debug)]
pub struct Link {
    pub a: u32,
    pub b: u32,
    pub rate: BitsPerSec,
    /// The hop class of the a->b direction and of the b->a direction.
    pub hop_ab: Hop,
    pub hop_ba: Hop,
}

#[derive(Clone, Debug)]
pub struct Topology {
    pub hosts: u32,
    pub switches: u32,
    pub links: Vec<Link>,
    /// Which hops a topology has, in path order (for reporting).
    pub hops: Vec<Hop>,
}

impl Topology {
    pub fn build(cfg: &TopologyConfig) -> Topology {
        let host = cfg.host_rate.0;
        let fabric = cfg.fabric_rate();
        match cfg.kind {
            TopologyKind::LeafSpine => {
                leaf_spine::build(cfg.racks, cfg.hosts_per_rack, cfg.spines, host, fabric)
            }
            TopologyKind::FatTree => fat_tree::build(cfg.k, host, fabric),
            TopologyKind::BigSwitch => big_switch::build(cfg.hosts, host),
        }
    }

    pub fn nodes(&self) -> u32 {
        self.hosts + self.switches
    }
}
