//! Per-flow packet bitmaps (which sequence numbers were received, sacked,
//! sent...), shared by the transports.

#[inline]
pub fn bit(v: &[u64], i: u32) -> bool {
    v[i as usize / 64] >> (i % 64) & 1 == 1
}

#[inline]
pub fn set(v: &mut [u64], i: u32) {
    v[i as usize / 64] |= 1 << (i % 64);
}

/// Set bits in [start, end).
pub fn count(v: &[u64], start: u32, end: u32) -> u32 {
    if v.is_empty() || end <= start {
        return 0;
    }
    let mut n = 0;
    let mut i = start;
    while i < end {
        let w = i as usize / 64;
        let lo = i % 64;
        let hi = if (end - i) as u64 >= (64 - lo) as u64 {
            64
        } else {
            lo + (end - i)
        };
        let mask = if hi == 64 {
            !0u64 << lo
        } else {
            ((1u64 << hi) - 1) & (!0u64 << lo)
        };
        n += (v[w] & mask).count_ones();
        i += hi - lo;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_bits_in_ranges() {
        let mut v = vec![0u64; 4];
        for i in [0u32, 5, 63, 64, 100, 200, 255] {
            v[i as usize / 64] |= 1 << (i % 64);
        }
        assert_eq!(count(&v, 0, 256), 7);
        assert_eq!(count(&v, 1, 64), 2);
        assert_eq!(count(&v, 63, 65), 2);
        assert_eq!(count(&v, 101, 200), 0);
        assert_eq!(count(&v, 100, 201), 2);
        assert_eq!(count(&v, 5, 5), 0);
    }
}
