//! Unit newtypes. Time is an integer number of picoseconds, sizes are bytes and
//! rates are bits per second, so serialization times at datacenter speeds
//! (10/25/40/100/400 Gbps) are exact integers and no floating point ever enters
//! the event loop.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in simulated time or a duration, in picoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Picos(pub u64);

impl Picos {
    pub const ZERO: Picos = Picos(0);
    pub const MAX: Picos = Picos(u64::MAX);

    pub const fn from_ns(ns: u64) -> Picos {
        Picos(ns * 1_000)
    }
    pub const fn from_us(us: u64) -> Picos {
        Picos(us * 1_000_000)
    }
    /// From a floating-point number of microseconds (only for configuration input).
    pub fn from_us_f64(us: f64) -> Picos {
        Picos((us * 1e6).round() as u64)
    }
    pub fn as_us_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    pub fn as_ns_f64(self) -> f64 {
        self.0 as f64 / 1e3
    }
    pub fn saturating_sub(self, o: Picos) -> Picos {
        Picos(self.0.saturating_sub(o.0))
    }
    /// Multiply by a whole factor (a method, not `Mul`, so that a duration is
    /// never multiplied by another duration by accident).
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, k: u64) -> Picos {
        Picos(self.0 * k)
    }
    /// Multiply by a rational factor `num/den` (rounding down).
    pub fn scale(self, num: u64, den: u64) -> Picos {
        Picos(((self.0 as u128 * num as u128) / den as u128) as u64)
    }
}

impl Add for Picos {
    type Output = Picos;
    fn add(self, o: Picos) -> Picos {
        Picos(self.0 + o.0)
    }
}
impl AddAssign for Picos {
    fn add_assign(&mut self, o: Picos) {
        self.0 += o.0
    }
}
impl Sub for Picos {
    type Output = Picos;
    fn sub(self, o: Picos) -> Picos {
        Picos(self.0 - o.0)
    }
}
impl fmt::Display for Picos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1_000_000) {
            write!(f, "{}us", self.0 / 1_000_000)
        } else if self.0.is_multiple_of(1_000) {
            write!(f, "{}ns", self.0 / 1_000)
        } else {
            write!(f, "{}ps", self.0)
        }
    }
}

/// A number of bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B", self.0)
    }
}

/// A link rate in bits per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BitsPerSec(pub u64);

impl BitsPerSec {
    pub const fn gbps(g: u64) -> BitsPerSec {
        BitsPerSec(g * 1_000_000_000)
    }
    /// Time to serialize `bytes` onto a link of this rate, rounded up to a
    /// whole picosecond (exact for every standard datacenter speed).
    pub fn tx_time(self, bytes: u64) -> Picos {
        let bits = bytes as u128 * 8 * 1_000_000_000_000u128;
        let r = self.0 as u128;
        Picos(bits.div_ceil(r) as u64)
    }
    /// Picoseconds per byte when that is a whole number (true for every
    /// standard speed), which turns serialization into one multiplication.
    pub fn ps_per_byte(self) -> Option<u64> {
        let num = 8_000_000_000_000u64;
        (self.0 > 0 && num.is_multiple_of(self.0)).then(|| num / self.0)
    }

    pub fn as_gbps_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl fmt::Display for BitsPerSec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1_000_000_000) {
            write!(f, "{}Gbps", self.0 / 1_000_000_000)
        } else {
            write!(f, "{}bps", self.0)
        }
    }
}

/// Parse a duration such as `200ns`, `45us`, `1.5ms`, `2s`, `300ps`.
pub fn parse_duration(s: &str) -> Option<Picos> {
    let s = s.trim();
    let (num, mult) = split_unit(
        s,
        &[
            ("ps", 1.0),
            ("ns", 1e3),
            ("us", 1e6),
            ("µs", 1e6),
            ("ms", 1e9),
            ("s", 1e12),
        ],
    )?;
    let v: f64 = num.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(Picos((v * mult).round() as u64))
}

/// Parse a rate such as `10Gbps`, `400Gbps`, `100Mbps`, `1.5Tbps`.
pub fn parse_rate(s: &str) -> Option<BitsPerSec> {
    let s = s.trim();
    let (num, mult) = split_unit(
        s,
        &[
            ("Tbps", 1e12),
            ("Gbps", 1e9),
            ("Mbps", 1e6),
            ("Kbps", 1e3),
            ("bps", 1.0),
        ],
    )?;
    let v: f64 = num.parse().ok()?;
    if !v.is_finite() || v <= 0.0 {
        return None;
    }
    Some(BitsPerSec((v * mult).round() as u64))
}

/// Parse a size such as `36KiB`, `1500B`, `1.5MB`, `64KB`, `2MiB` or a bare
/// integer number of bytes.
pub fn parse_size(s: &str) -> Option<Bytes> {
    let s = s.trim();
    if let Ok(v) = s.parse::<u64>() {
        return Some(Bytes(v));
    }
    let (num, mult) = split_unit(
        s,
        &[
            ("KiB", 1024.0),
            ("MiB", 1048576.0),
            ("GiB", 1073741824.0),
            ("KB", 1e3),
            ("MB", 1e6),
            ("GB", 1e9),
            ("B", 1.0),
        ],
    )?;
    let v: f64 = num.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(Bytes((v * mult).round() as u64))
}

fn split_unit<'a>(s: &'a str, units: &[(&str, f64)]) -> Option<(&'a str, f64)> {
    for (u, m) in units {
        if let Some(num) = s.strip_suffix(u) {
            let num = num.trim();
            if !num.is_empty() {
                return Some((num, *m));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialization_is_exact_at_standard_speeds() {
        assert_eq!(BitsPerSec::gbps(10).tx_time(1500), Picos::from_ns(1200));
        assert_eq!(BitsPerSec::gbps(40).tx_time(1500), Picos::from_ns(300));
        assert_eq!(BitsPerSec::gbps(100).tx_time(1500), Picos::from_ns(120));
        assert_eq!(BitsPerSec::gbps(400).tx_time(1500), Picos::from_ns(30));
        assert_eq!(BitsPerSec::gbps(25).tx_time(1500), Picos::from_ns(480));
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("200ns"), Some(Picos::from_ns(200)));
        assert_eq!(parse_duration("45us"), Some(Picos::from_us(45)));
        assert_eq!(parse_duration("1.5ms"), Some(Picos(1_500_000_000)));
        assert_eq!(parse_duration("-1us"), None);
        assert_eq!(parse_duration("fast"), None);
        assert_eq!(parse_rate("40Gbps"), Some(BitsPerSec::gbps(40)));
        assert_eq!(parse_rate("0Gbps"), None);
        assert_eq!(parse_size("36KiB"), Some(Bytes(36864)));
        assert_eq!(parse_size("1500"), Some(Bytes(1500)));
        assert_eq!(parse_size("1.5MB"), Some(Bytes(1_500_000)));
    }
}
