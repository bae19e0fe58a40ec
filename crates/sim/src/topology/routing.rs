//! Shortest-path routing tables.
//!
//! For every switch and destination host we keep the set of output ports on a
//! shortest path (the equal-cost next hops). The table is computed once by a
//! breadth-first search from each host, so it is correct for any topology the
//! builders produce, and stored flat (CSR) for cache-friendly lookups.

use std::collections::VecDeque;

/// `ports_of(node)` lists (port, neighbour) pairs of a node.
pub struct RoutingTable {
    hosts: u32,
    first_switch: u32,
    offsets: Vec<u32>,
    ports: Vec<u32>,
    /// Hop count from each node to each host: dist[host * nodes + node].
    dist: Vec<u16>,
    nodes: u32,
}

impl RoutingTable {
    pub fn build(hosts: u32, nodes: u32, adjacency: &[Vec<(u32, u32)>]) -> RoutingTable {
        let n = nodes as usize;
        let mut dist = vec![u16::MAX; hosts as usize * n];
        let mut queue = VecDeque::new();
        for h in 0..hosts as usize {
            let d = &mut dist[h * n..(h + 1) * n];
            d[h] = 0;
            queue.clear();
            queue.push_back(h as u32);
            while let Some(u) = queue.pop_front() {
                let du = d[u as usize];
                for &(_, v) in &adjacency[u as usize] {
                    // Paths never pass through another host.
                    if d[v as usize] == u16::MAX {
                        d[v as usize] = du + 1;
                        if v >= hosts {
                            queue.push_back(v);
                        }
                    }
                }
            }
        }
        let switches = nodes - hosts;
        let mut offsets = Vec::with_capacity((switches * hosts + 1) as usize);
        let mut ports = Vec::new();
        offsets.push(0);
        for s in hosts..nodes {
            for h in 0..hosts as usize {
                let d = &dist[h * n..(h + 1) * n];
                let ds = d[s as usize];
                for &(port, v) in &adjacency[s as usize] {
                    if ds != u16::MAX && d[v as usize] + 1 == ds {
                        ports.push(port);
                    }
                }
                offsets.push(ports.len() as u32);
            }
        }
        RoutingTable {
            hosts,
            first_switch: hosts,
            offsets,
            ports,
            dist,
            nodes,
        }
    }

    /// The equal-cost output ports at `switch` towards host `dst`.
    #[inline]
    pub fn next_ports(&self, switch: u32, dst: u32) -> &[u32] {
        let i = ((switch - self.first_switch) * self.hosts + dst) as usize;
        &self.ports[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Number of links on a shortest path between two hosts.
    pub fn hops_between(&self, src: u32, dst: u32) -> u32 {
        self.dist[dst as usize * self.nodes as usize + src as usize] as u32
    }
}
