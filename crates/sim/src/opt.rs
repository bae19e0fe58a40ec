//! OPT(i): the flow completion time of flow i alone in the network.
//!
//! This is the one definition of the ideal FCT used everywhere (slowdown =
//! FCT / OPT). The flow's packets leave the source NIC back to back at line
//! rate at the flow's arrival and cross an otherwise empty network along its
//! (equal-cost) path. Every link serializes every packet with its headers
//! (`mtu` bytes, the last packet `header + remaining payload`), adds its
//! propagation delay, and every switch adds its switching delay. With
//! store-and-forward a switch forwards a packet once its last byte is in;
//! with cut-through once its header is in, but never so that the packet would
//! finish leaving before it has finished arriving. The FCT ends when the last
//! byte reaches the destination host.
//!
//! The computation runs the same per-port rules as [`crate::network`] packet
//! by packet, so a lone flow in the simulator matches it to the picosecond.
//! It is O(hops) per packet until the pipeline reaches its steady state (every
//! hop advancing by the same bottleneck serialization time per packet), then
//! jumps over the remaining identical packets, so it is O(hops^2) per flow.

use crate::ids::HostId;
use crate::network::{NetParams, Network};
use crate::units::{BitsPerSec, Picos};

/// The link rates along the first shortest path from `src` to `dst`.
pub fn path_rates(net: &Network, src: HostId, dst: HostId) -> Vec<BitsPerSec> {
    let mut rates = Vec::with_capacity(8);
    let mut port = net.nic(src);
    loop {
        let p = &net.ports[port.idx()];
        rates.push(p.rate);
        if p.peer.0 == dst.0 {
            return rates;
        }
        debug_assert!(
            !net.is_host(p.peer),
            "path from {src:?} reached another host"
        );
        port = crate::ids::PortId(net.routes.next_ports(p.peer.0, dst.0)[0]);
    }
}

/// OPT for a flow of `size` payload bytes over links of the given rates.
pub fn opt_fct(params: &NetParams, path: &[BitsPerSec], size: u64) -> Picos {
    let n = params.packets_for(size);
    let hops = path.len();
    let prop = params.propagation;
    let sd = params.switch_delay;
    let cut = params.cut_through;
    let hdr_times: Vec<Picos> = path
        .iter()
        .map(|r| r.tx_time(params.header as u64))
        .collect();
    let mut busy = vec![Picos::ZERO; hops];
    let mut prev = vec![Picos::ZERO; hops];
    let mut arrival = Picos::ZERO;
    let mut j = 0u32;
    while j < n {
        let wire = params.data_wire_bytes(size, j) as u64;
        // The packet is at the source NIC from time 0.
        let mut ready = Picos::ZERO;
        let mut last = Picos::ZERO;
        for k in 0..hops {
            let ser = path[k].tx_time(wire);
            let mut start = ready.max(busy[k]);
            if cut {
                start = start.max(last.saturating_sub(ser));
            }
            let end = start + ser;
            busy[k] = end;
            if k + 1 == hops {
                arrival = end + prop;
            } else {
                last = end + prop + sd;
                ready = if cut {
                    start + hdr_times[k] + prop + sd
                } else {
                    last
                };
            }
        }
        // Steady state among the full-size packets: every hop advanced by the
        // same amount as for the previous packet, so each further full-size
        // packet advances every hop by that amount again.
        if j >= 2 && j + 2 < n {
            let delta = busy[0] - prev[0];
            if (0..hops).all(|k| busy[k] - prev[k] == delta) {
                let skip = n - 2 - j; // leave the final packet to the loop
                for b in busy.iter_mut() {
                    *b += delta.mul(skip as u64);
                }
                j += skip;
            }
        }
        prev.copy_from_slice(&busy);
        j += 1;
    }
    arrival
}
