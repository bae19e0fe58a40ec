//! Empirical flow-size distributions.
//!
//! A CDF file has one point per line: `SIZE_IN_PACKETS 1 CUMULATIVE_PROB`
//! (whitespace separated, the middle column ignored). Sampling inverts the
//! CDF with linear interpolation between points (a "smooth" CDF, as the
//! reference simulator of pFabric and pHost does) and rounds to whole
//! packets, at least one. Sizes are in packets of `payload` bytes.

use crate::error::{Result, SimError};
use crate::rng::Rng;

#[derive(Clone, Debug)]
pub struct EmpiricalCdf {
    /// (size in packets, cumulative probability), non-decreasing in both.
    points: Vec<(f64, f64)>,
}

/// The distributions that ship with ddclab (see `data/workloads/README.md`
/// for where each comes from).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "websearch",
        include_str!("../../../../python/ddclab/data/workloads/websearch.cdf"),
    ),
    (
        "datamining",
        include_str!("../../../../python/ddclab/data/workloads/datamining.cdf"),
    ),
    (
        "imc10",
        include_str!("../../../../python/ddclab/data/workloads/imc10.cdf"),
    ),
    (
        "ddc",
        include_str!("../../../../python/ddclab/data/workloads/ddc.cdf"),
    ),
];

impl EmpiricalCdf {
    pub fn builtin(name: &str) -> Option<EmpiricalCdf> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| EmpiricalCdf::parse(text, n).expect("built-in CDFs are valid"))
    }

    /// Parse CDF text; `source` names the file in errors.
    pub fn parse(text: &str, source: &str) -> Result<EmpiricalCdf> {
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = t.split_whitespace().collect();
            if cols.len() != 3 && cols.len() != 2 {
                return Err(SimError::Cdf(format!(
                    "{source} line {line_no}: expected `SIZE 1 CDF` (3 columns), got {} columns",
                    cols.len()
                )));
            }
            let size: f64 = cols[0].parse().map_err(|_| {
                SimError::Cdf(format!(
                    "{source} line {line_no}: size {:?} is not a number",
                    cols[0]
                ))
            })?;
            let p: f64 = cols[cols.len() - 1].parse().map_err(|_| {
                SimError::Cdf(format!(
                    "{source} line {line_no}: probability {:?} is not a number",
                    cols[cols.len() - 1]
                ))
            })?;
            if !size.is_finite() || size < 0.0 {
                return Err(SimError::Cdf(format!(
                    "{source} line {line_no}: size {size} must be >= 0"
                )));
            }
            // Sizes are in packets, which are numbered with 32 bits.
            if size > u32::MAX as f64 {
                return Err(SimError::Cdf(format!(
                    "{source} line {line_no}: size {} packets is more than 2^32 - 1",
                    cols[0]
                )));
            }
            if !(0.0..=1.0).contains(&p) {
                return Err(SimError::Cdf(format!(
                    "{source} line {line_no}: probability {p} is outside [0, 1]"
                )));
            }
            if let Some(&(ps, pp)) = points.last() {
                if size < ps {
                    return Err(SimError::Cdf(format!(
                        "{source} line {line_no}: sizes must not decrease ({size} after {ps})"
                    )));
                }
                if p < pp {
                    return Err(SimError::Cdf(format!(
                        "{source} line {line_no}: probabilities must not decrease ({p} after {pp})"
                    )));
                }
            }
            points.push((size, p));
        }
        match points.last() {
            None => return Err(SimError::Cdf(format!("{source}: no points"))),
            Some(&(_, p)) if (p - 1.0).abs() > 1e-6 => {
                return Err(SimError::Cdf(format!(
                    "{source}: the last probability is {p}, it must be 1"
                )))
            }
            _ => {}
        }
        if points.iter().all(|&(s, _)| s < 0.5) {
            return Err(SimError::Cdf(format!(
                "{source}: every size rounds to zero packets"
            )));
        }
        Ok(EmpiricalCdf { points })
    }

    /// The interpolated inverse CDF at `u` in [0, 1).
    pub fn quantile(&self, u: f64) -> f64 {
        let pts = &self.points;
        if u <= pts[0].1 {
            return pts[0].0;
        }
        // First point with cumulative probability >= u.
        let i = pts.partition_point(|&(_, p)| p < u);
        if i >= pts.len() {
            return pts[pts.len() - 1].0;
        }
        let (x0, p0) = pts[i - 1];
        let (x1, p1) = pts[i];
        if p1 <= p0 {
            return x1;
        }
        x0 + (u - p0) / (p1 - p0) * (x1 - x0)
    }

    /// The interpolated CDF at size `x` (packets): P(size <= x) before rounding.
    pub fn cdf(&self, x: f64) -> f64 {
        let pts = &self.points;
        if x < pts[0].0 {
            return 0.0;
        }
        // Last point with size <= x.
        let i = pts.partition_point(|&(s, _)| s <= x);
        if i >= pts.len() {
            return 1.0;
        }
        let (x0, p0) = pts[i - 1];
        let (x1, p1) = pts[i];
        if x1 <= x0 {
            return p1;
        }
        p0 + (x - x0) / (x1 - x0) * (p1 - p0)
    }

    /// A flow size in packets.
    pub fn sample_packets(&self, rng: &mut Rng) -> u64 {
        (self.quantile(rng.uniform()).round() as u64).max(1)
    }

    /// The mean size in packets of the interpolated distribution (before
    /// rounding to whole packets).
    pub fn mean_packets(&self) -> f64 {
        let pts = &self.points;
        let mut m = pts[0].0 * pts[0].1;
        for w in pts.windows(2) {
            let (x0, p0) = w[0];
            let (x1, p1) = w[1];
            m += (p1 - p0) * (x0 + x1) / 2.0;
        }
        m
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for (name, _) in BUILTIN {
            let c = EmpiricalCdf::builtin(name).unwrap();
            assert!(c.mean_packets() > 1.0, "{name}");
        }
        let ws = EmpiricalCdf::builtin("websearch").unwrap();
        // The DCTCP web-search distribution has a mean of about 1.6 MB.
        let mean_bytes = ws.mean_packets() * 1460.0;
        assert!((1.4e6..1.9e6).contains(&mean_bytes), "{mean_bytes}");
    }

    #[test]
    fn rejects_bad_files() {
        let e = EmpiricalCdf::parse("1 1 0\n5 1 0.7\n3 1 1.0\n", "x.cdf")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.cdf line 3") && e.contains("sizes must not decrease"),
            "{e}"
        );
        let e = EmpiricalCdf::parse("1 1 0\n5 1 0.7\n6 1 0.6\n", "x.cdf")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("probabilities"), "{e}");
        let e = EmpiricalCdf::parse("1 1 0\nfoo 1 0.7\n", "x.cdf")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = EmpiricalCdf::parse("1 1 0\n5 1 0.7\n", "x.cdf")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be 1"), "{e}");
        assert!(EmpiricalCdf::parse("", "x.cdf").is_err());
    }
}
