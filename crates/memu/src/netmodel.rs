//! Network model of a remote-memory transfer.
//!
//! A transfer of B bytes over a direction (ingress = remote->local page reads,
//! egress = write-back) costs `latency + B / bandwidth`. Each direction is one
//! serialized link: a transfer may start transmitting only when the previous one
//! has left the link, so concurrent transfers share the bandwidth, while their
//! propagation latencies overlap (the link is pipelined). In FCT mode the time of
//! a batch of N pages is the FCT of the largest table size <= N*4096 (the
//! study's "closing the loop"): those FCTs already include the simulated
//! network's queueing, so they are not serialized again.
//!
//! Pure integer arithmetic (ns); shared by the shim and the probe.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FctTable {
    /// (size in bytes, fct in ns), sorted by size, sizes strictly increasing.
    points: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError(pub String);
impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FctTable {
    /// Parse `FLOW_SIZE_BYTES MEAN_FCT_MICROSECONDS` lines.
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let mut points = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut it = line.split_whitespace();
            let (Some(a), Some(b)) = (it.next(), it.next()) else {
                return Err(TableError(format!("line {}: expected 'SIZE FCT_US'", i + 1)));
            };
            let size: u64 = a
                .parse()
                .map_err(|_| TableError(format!("line {}: bad size {a:?}", i + 1)))?;
            let us: f64 = b
                .parse()
                .map_err(|_| TableError(format!("line {}: bad FCT {b:?}", i + 1)))?;
            if !(us.is_finite() && us >= 0.0) {
                return Err(TableError(format!("line {}: bad FCT {b:?}", i + 1)));
            }
            points.push((size, (us * 1000.0).round() as u64));
        }
        if points.is_empty() {
            return Err(TableError("no entries".into()));
        }
        points.sort_unstable();
        points.dedup_by_key(|p| p.0);
        Ok(FctTable { points })
    }

    /// FCT of the largest listed size <= bytes; the smallest entry for batches
    /// below the first listed size.
    pub fn lookup(&self, bytes: u64) -> u64 {
        match self.points.partition_point(|p| p.0 <= bytes) {
            0 => self.points[0].1,
            i => self.points[i - 1].1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Model {
    /// Latency in ns and bandwidth in bits/s (0 = infinite).
    Link { latency_ns: u64, bandwidth_bps: u64 },
    Fct(FctTable),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Ingress,
    Egress,
}

#[derive(Debug, Clone)]
pub struct NetModel {
    pub model: Model,
    /// Time each direction's link finishes transmitting what it has accepted.
    free_at: [u64; 2],
}

impl NetModel {
    pub fn new(model: Model) -> Self {
        NetModel { model, free_at: [0, 0] }
    }

    /// Serialization time of `bytes` at the link bandwidth.
    pub fn tx_ns(bandwidth_bps: u64, bytes: u64) -> u64 {
        if bandwidth_bps == 0 {
            return 0;
        }
        (bytes as u128 * 8 * 1_000_000_000).div_ceil(bandwidth_bps as u128) as u64
    }

    /// Book a transfer of `bytes` issued at `now`; returns its completion time.
    pub fn transfer(&mut self, dir: Dir, now: u64, bytes: u64) -> u64 {
        match &self.model {
            Model::Link { latency_ns, bandwidth_bps } => {
                let link = &mut self.free_at[dir as usize];
                let start = (*link).max(now);
                *link = start + Self::tx_ns(*bandwidth_bps, bytes);
                *link + latency_ns
            }
            Model::Fct(t) => now + t.lookup(bytes),
        }
    }

    /// True when every transfer completes instantly (zero injected delay).
    pub fn is_zero(&self) -> bool {
        matches!(self.model, Model::Link { latency_ns: 0, bandwidth_bps: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_plus_serialization() {
        // 4096 B at 40 Gb/s = 819.2 ns -> 820 ns (rounded up), plus 5 us.
        let mut m = NetModel::new(Model::Link { latency_ns: 5000, bandwidth_bps: 40_000_000_000 });
        assert_eq!(m.transfer(Dir::Ingress, 1000, 4096), 1000 + 820 + 5000);
    }

    #[test]
    fn concurrent_transfers_share_one_direction_but_not_the_other() {
        let mut m = NetModel::new(Model::Link { latency_ns: 1000, bandwidth_bps: 8_000_000_000 });
        // 8 Gb/s: 1000 bytes take 1000 ns to transmit.
        let a = m.transfer(Dir::Ingress, 0, 1000);
        let b = m.transfer(Dir::Ingress, 0, 1000);
        assert_eq!(a, 2000);
        assert_eq!(b, 3000, "second transfer waits for the first to leave the link");
        let c = m.transfer(Dir::Egress, 0, 1000);
        assert_eq!(c, 2000, "the other direction is independent");
        // An idle link does not carry debt into the future.
        assert_eq!(m.transfer(Dir::Ingress, 10_000, 1000), 12_000);
    }

    #[test]
    fn fct_table_takes_largest_size_not_above_batch() {
        let t = FctTable::parse("4096 2.5\n8192 3.0\n40960 7.25\n").unwrap();
        assert_eq!(t.lookup(4096), 2500);
        assert_eq!(t.lookup(3 * 4096), 3000);
        assert_eq!(t.lookup(100 * 4096), 7250);
        assert_eq!(t.lookup(100), 2500);
        let mut m = NetModel::new(Model::Fct(t));
        assert_eq!(m.transfer(Dir::Ingress, 10, 2 * 4096), 3010);
        assert_eq!(m.transfer(Dir::Ingress, 10, 2 * 4096), 3010, "FCTs already include queueing");
    }

    #[test]
    fn fct_table_rejects_garbage() {
        assert!(FctTable::parse("").is_err());
        assert!(FctTable::parse("4096 abc").unwrap_err().0.contains("line 1"));
        assert!(FctTable::parse("4096 -1").is_err());
    }
}
