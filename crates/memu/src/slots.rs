//! Which slots of a store reservation are in use, and runs of free ones.
//!
//! The evictor moves a contiguous run of victim pages into a contiguous run of
//! slots with one `UFFDIO_MOVE`: the kernel then flushes the run from the
//! other CPUs once, not once per page (an inter-processor interrupt each, ~20
//! us on the development VM while the program runs on the other CPU). So the
//! allocator hands out runs, not only single slots.
//!
//! One bit per slot ever handed out (below `top`), set while the slot is in
//! use. A run is looked for among freed slots first, next-fit from where the
//! last search ended and over a bounded stretch of the bitmap, so one search
//! costs at most a few hundred word operations; failing that it comes from
//! fresh slots above `top`.

/// Longest run handed out at once.
pub const MAX_RUN: u64 = 64;
/// Bitmap words looked at per search among freed slots.
const SCAN_WORDS: usize = 64;

pub struct Slots {
    used: Vec<u64>,
    /// Slots handed out so far (the bitmap covers [0, top)).
    top: u64,
    /// Capacity of the reservation, in slots.
    cap: u64,
    /// Word where the next search starts.
    rotor: usize,
}

impl Slots {
    pub fn new(cap: u64) -> Slots {
        Slots {
            used: Vec::new(),
            top: 0,
            cap,
            rotor: 0,
        }
    }

    /// A run of `n` (1..=MAX_RUN) free slots, marked used; its first index.
    pub fn alloc_run(&mut self, n: u64) -> Option<u64> {
        debug_assert!((1..=MAX_RUN).contains(&n));
        let found = self.find_free(n, SCAN_WORDS);
        let found = found.or_else(|| self.fresh(n));
        // Out of fresh slots: a single slot is worth a full search.
        let found = found.or_else(|| {
            if n == 1 {
                self.find_free(1, self.used.len())
            } else {
                None
            }
        });
        if let Some(i) = found {
            self.set(i, n, true);
        }
        found
    }

    /// Slot `i` is free again.
    pub fn release(&mut self, i: u64) {
        debug_assert!(self.is_used(i), "slot {i} released twice");
        self.set(i, 1, false);
    }

    pub fn is_used(&self, i: u64) -> bool {
        i < self.top && self.used[(i / 64) as usize] >> (i % 64) & 1 == 1
    }

    fn fresh(&mut self, n: u64) -> Option<u64> {
        if self.top + n > self.cap {
            return None;
        }
        let i = self.top;
        self.top += n;
        self.used.resize(self.top.div_ceil(64) as usize, 0);
        Some(i)
    }

    /// Word `w` of the bitmap, with slots at or above `top` counted as used.
    fn word(&self, w: usize) -> u64 {
        let v = self.used[w];
        let first = w as u64 * 64;
        if first + 64 <= self.top {
            v
        } else {
            v | !0u64 << (self.top - first)
        }
    }

    /// Next fit: the first run of `n` free slots in `words` words from the
    /// rotor (wrapping; a run does not span the wrap).
    fn find_free(&mut self, n: u64, words: usize) -> Option<u64> {
        let total = self.used.len();
        if total == 0 {
            return None;
        }
        let mut w = self.rotor % total;
        let mut run_start = 0u64;
        let mut run = 0u64;
        for _ in 0..words.min(total) {
            let bits = self.word(w);
            if bits == !0 {
                run = 0;
            } else {
                let mut pos = 0u32;
                while pos < 64 {
                    let rest = bits >> pos;
                    let ones = rest.trailing_ones();
                    if ones > 0 {
                        run = 0;
                        pos += ones;
                        continue;
                    }
                    // Free slots from `pos` to the next used one (or the word's end).
                    let zeros = rest.trailing_zeros().min(64 - pos);
                    if run == 0 {
                        run_start = w as u64 * 64 + pos as u64;
                    }
                    if run + zeros as u64 >= n {
                        self.rotor = ((run_start + n) / 64) as usize;
                        return Some(run_start);
                    }
                    run += zeros as u64;
                    pos += zeros;
                }
            }
            w += 1;
            if w == total {
                w = 0;
                run = 0; // the wrap is not contiguous
            }
        }
        None
    }

    fn set(&mut self, i: u64, n: u64, used: bool) {
        for k in i..i + n {
            let (w, b) = ((k / 64) as usize, k % 64);
            if used {
                self.used[w] |= 1 << b;
            } else {
                self.used[w] &= !(1 << b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_runs_are_contiguous_and_disjoint() {
        let mut s = Slots::new(1000);
        assert_eq!(s.alloc_run(8), Some(0));
        assert_eq!(s.alloc_run(1), Some(8));
        assert_eq!(s.alloc_run(64), Some(9));
        assert!((0..73).all(|i| s.is_used(i)) && !s.is_used(73));
    }

    #[test]
    fn freed_runs_are_reused_before_fresh_slots() {
        let mut s = Slots::new(1000);
        let a = s.alloc_run(32).unwrap();
        let _b = s.alloc_run(32).unwrap();
        for k in 4..12 {
            s.release(a + k);
        }
        assert_eq!(s.alloc_run(8), Some(a + 4));
        // No 8-run left among freed slots: a fresh one.
        s.release(a + 20);
        assert_eq!(s.alloc_run(8), Some(64));
        assert_eq!(s.alloc_run(1), Some(a + 20));
    }

    #[test]
    fn runs_span_word_boundaries() {
        let mut s = Slots::new(1000);
        s.alloc_run(64).unwrap();
        s.alloc_run(64).unwrap();
        s.alloc_run(1).unwrap(); // keeps the freed run below `top`
        for k in 60..70 {
            s.release(k);
        }
        assert_eq!(s.alloc_run(10), Some(60));
    }

    #[test]
    fn exhaustion_falls_back_to_single_freed_slots_then_none() {
        let mut s = Slots::new(10);
        assert_eq!(s.alloc_run(10), Some(0));
        assert_eq!(s.alloc_run(1), None);
        s.release(3);
        s.release(7);
        assert_eq!(s.alloc_run(2), None); // no two adjacent free slots
        assert_eq!(s.alloc_run(1), Some(3));
        assert_eq!(s.alloc_run(1), Some(7));
        assert_eq!(s.alloc_run(1), None);
    }

    #[test]
    fn random_use_never_hands_out_a_used_slot() {
        let mut s = Slots::new(5000);
        let mut held: Vec<u64> = Vec::new();
        let mut x = 0x2545F4914F6CDD1Du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(3) && !held.is_empty() {
                let i = (x / 3) as usize % held.len();
                s.release(held.swap_remove(i));
            } else {
                let n = 1 + x % 9;
                if let Some(i) = s.alloc_run(n) {
                    for k in i..i + n {
                        assert!(!held.contains(&k), "slot {k} handed out twice");
                        held.push(k);
                    }
                }
            }
        }
        assert!(held.iter().all(|&k| s.is_used(k)));
    }
}
