//! Cache prefetch hints.
//!
//! Forwarding a packet is a chain of dependent loads (the port, its link's
//! head entry, the packet, the routing row, the next port), and with tens of
//! thousands of packets in flight most of them miss the core's caches. The
//! event loop knows the next event before it runs the current one, so it asks
//! for that event's memory early; the misses of consecutive events then
//! overlap instead of following one another. A hint has no effect on results.

/// Ask for the cache line holding `*r` (no effect on other architectures).
#[inline(always)]
pub fn line<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults or changes memory,
    // and the pointer comes from a live reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(r as *const T as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}
