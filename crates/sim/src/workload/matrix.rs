//! Traffic matrices: who talks to whom.

use crate::ids::HostId;
use crate::rng::Rng;
use crate::scenario::MatrixKind;

pub struct Matrix {
    kind: MatrixKind,
    hosts: u32,
    /// permutation: each host's fixed destination.
    perm: Vec<u32>,
}

impl Matrix {
    pub fn new(kind: MatrixKind, hosts: u32, rng: &mut Rng) -> Matrix {
        let perm = if kind == MatrixKind::Permutation {
            // A random cyclic order: each host sends to the next one in it,
            // which is a permutation without fixed points.
            let mut order: Vec<u32> = (0..hosts).collect();
            shuffle(&mut order, rng);
            let mut perm = vec![0; hosts as usize];
            for i in 0..hosts as usize {
                perm[order[i] as usize] = order[(i + 1) % hosts as usize];
            }
            perm
        } else {
            Vec::new()
        };
        Matrix { kind, hosts, perm }
    }

    /// A source and a destination for one flow.
    pub fn pair(&self, rng: &mut Rng) -> (HostId, HostId) {
        let src = rng.below(self.hosts as u64) as u32;
        let dst = match self.kind {
            MatrixKind::Permutation => self.perm[src as usize],
            _ => {
                let d = rng.below(self.hosts as u64 - 1) as u32;
                if d >= src {
                    d + 1
                } else {
                    d
                }
            }
        };
        (HostId(src), HostId(dst))
    }

    /// A receiver and `n` distinct other senders.
    pub fn incast(&self, n: u32, rng: &mut Rng) -> (HostId, Vec<HostId>) {
        let dst = rng.below(self.hosts as u64) as u32;
        let mut others: Vec<u32> = (0..self.hosts).filter(|&h| h != dst).collect();
        // Partial Fisher-Yates: the first n are a uniform sample.
        for i in 0..n as usize {
            let j = i + rng.below((others.len() - i) as u64) as usize;
            others.swap(i, j);
        }
        (
            HostId(dst),
            others[..n as usize].iter().map(|&h| HostId(h)).collect(),
        )
    }
}

fn shuffle(v: &mut [u32], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_has_no_fixed_points_and_is_bijective() {
        let mut rng = Rng::new(4);
        let m = Matrix::new(MatrixKind::Permutation, 144, &mut rng);
        let mut seen = [false; 144];
        for (s, &d) in m.perm.iter().enumerate() {
            assert_ne!(s as u32, d);
            assert!(!seen[d as usize]);
            seen[d as usize] = true;
        }
    }

    #[test]
    fn pairs_never_self() {
        let mut rng = Rng::new(4);
        let m = Matrix::new(MatrixKind::AllToAll, 5, &mut rng);
        for _ in 0..10_000 {
            let (s, d) = m.pair(&mut rng);
            assert_ne!(s, d);
            assert!(s.0 < 5 && d.0 < 5);
        }
        let (d, senders) = m.incast(4, &mut rng);
        assert_eq!(senders.len(), 4);
        assert!(!senders.contains(&d));
    }
}
