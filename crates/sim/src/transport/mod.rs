//! Transports: one file per protocol, all behind [`Transport`].
//!
//! The engine calls a transport when a flow arrives, when a packet reaches a
//! host, when one of its timers fires and when a host NIC falls idle (for
//! protocols whose hosts pull packets to send one at a time). A transport
//! owns its per-flow state and acts on the network only through
//! [`crate::world::World`]. Adding a protocol means one new file here and one
//! line in [`with_transport`]; the engine is untouched.

pub mod bitmap;
pub mod fastpass;
pub mod ideal;
pub mod pfabric;
pub mod phost;
pub mod tcp;

use crate::error::Result;
use crate::ids::{FlowId, HostId};
use crate::packet::PacketId;
use crate::scenario::{QueueKind, Scenario};
use crate::world::World;

pub trait Transport: Send {
    /// Flow `f` arrives at its source.
    fn on_flow_arrival(&mut self, w: &mut World, f: FlowId);
    /// `pkt` has fully arrived at `host`. The transport owns it now and must
    /// free it (or reuse it).
    fn on_packet(&mut self, w: &mut World, host: HostId, pkt: PacketId);
    /// A timer the transport set with [`World::timer`] fires.
    fn on_timer(&mut self, w: &mut World, a: u32, b: u32);
    /// `host`'s NIC has nothing queued and is free: it may send one packet.
    fn on_nic_idle(&mut self, _w: &mut World, _host: HostId) {}
}

/// Every protocol name a scenario may ask for.
pub const PROTOCOLS: &[&str] = &["tcp", "dctcp", "pfabric", "phost", "fastpass", "ideal"];

/// The queue discipline a protocol uses when the scenario says `auto`.
pub fn default_queue(protocol: &str) -> QueueKind {
    match protocol {
        "dctcp" => QueueKind::Ecn,
        "pfabric" => QueueKind::Pfabric,
        "phost" | "fastpass" => QueueKind::Priority,
        _ => QueueKind::DropTail,
    }
}

/// Whether a protocol's hosts pull packets into their NIC one at a time when
/// it falls idle (rather than handing packets to a FIFO NIC queue).
pub fn nic_pulls(protocol: &str) -> bool {
    matches!(protocol, "pfabric" | "phost")
}

/// A callback generic over the transport type, so the engine is compiled once
/// per protocol (static dispatch on the hot path).
pub trait WithTransport {
    type Output;
    fn call<T: Transport + 'static>(self, t: T) -> Self::Output;
}

/// Build the scenario's transport and hand it to `k`.
pub fn with_transport<K: WithTransport>(sc: &Scenario, flows: usize, k: K) -> Result<K::Output> {
    let p = sc.transport.protocol.as_str();
    Ok(match p {
        "tcp" => k.call(tcp::Tcp::new(sc, flows, false)),
        "dctcp" => k.call(tcp::Tcp::new(sc, flows, true)),
        "pfabric" => k.call(pfabric::PFabric::new(sc, flows)),
        "phost" => k.call(phost::PHost::new(sc, flows)),
        "fastpass" => k.call(fastpass::Fastpass::new(sc, flows)),
        "ideal" => k.call(ideal::Ideal::new(sc, flows)),
        other => unreachable!("protocol {other} passed validation but has no implementation"),
    })
}
