//! A FIFO ring addressed by absolute sequence numbers.
//!
//! Each port keeps the packets on its link in one of these. Entry `s` (the
//! `s`-th value ever pushed) lives at `buf[s & mask]`, so the front, the back
//! and any entry in between are found with one mask and no wrap-around
//! arithmetic, and callers can hold on to absolute positions (a port's
//! "first packet still waiting") that stay valid as the front advances.

pub struct SeqRing<T: Copy + Default> {
    buf: Box<[T]>,
    /// Sequence number of the front entry (values popped so far).
    head: u64,
    /// Sequence number the next push gets (values pushed so far).
    tail: u64,
}

impl<T: Copy + Default> Default for SeqRing<T> {
    fn default() -> Self {
        SeqRing {
            buf: Box::new([]),
            head: 0,
            tail: 0,
        }
    }
}

impl<T: Copy + Default> SeqRing<T> {
    #[inline]
    pub fn len(&self) -> usize {
        (self.tail - self.head) as usize
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.tail == self.head
    }

    /// Sequence number of the front entry.
    #[inline]
    pub fn head_seq(&self) -> u64 {
        self.head
    }

    /// Sequence number the next push will get.
    #[inline]
    pub fn tail_seq(&self) -> u64 {
        self.tail
    }

    #[inline]
    fn mask(&self) -> u64 {
        self.buf.len() as u64 - 1
    }

    /// The entry with sequence number `s` (which must be in the ring).
    #[inline(always)]
    pub fn at(&self, s: u64) -> &T {
        debug_assert!(s >= self.head && s < self.tail);
        &self.buf[(s & self.mask()) as usize]
    }

    #[inline(always)]
    pub fn front(&self) -> Option<&T> {
        if self.is_empty() {
            None
        } else {
            Some(self.at(self.head))
        }
    }

    #[inline(always)]
    pub fn pop_front(&mut self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let v = *self.at(self.head);
        self.head += 1;
        Some(v)
    }

    #[inline(always)]
    pub fn push_back(&mut self, v: T) {
        if self.len() == self.buf.len() {
            self.grow();
        }
        let i = (self.tail & self.mask()) as usize;
        self.buf[i] = v;
        self.tail += 1;
    }

    #[cold]
    fn grow(&mut self) {
        let cap = (self.buf.len() * 2).max(8);
        let mut buf = vec![T::default(); cap].into_boxed_slice();
        let mask = cap as u64 - 1;
        for s in self.head..self.tail {
            buf[(s & mask) as usize] = *self.at(s);
        }
        self.buf = buf;
    }
}

#[cfg(test)]
mod tests {
    use super::SeqRing;
    use std::collections::VecDeque;

    /// Random pushes and pops behave like a VecDeque, and every entry is
    /// found by its sequence number across growth and wrap-around.
    #[test]
    fn behaves_like_a_deque() {
        let mut r = crate::rng::Rng::new(9);
        let mut ring = SeqRing::<u64>::default();
        let mut reference = VecDeque::new();
        let mut next = 0u64;
        for _ in 0..100_000 {
            if r.below(100) < 52 {
                ring.push_back(next * 7);
                reference.push_back(next * 7);
                next += 1;
            } else {
                assert_eq!(ring.pop_front(), reference.pop_front());
            }
            assert_eq!(ring.len(), reference.len());
            assert_eq!(ring.front(), reference.front());
            if let Some(&v) = reference.back() {
                assert_eq!(*ring.at(ring.tail_seq() - 1), v);
                assert_eq!(v, (ring.tail_seq() - 1) * 7);
            }
        }
    }
}
