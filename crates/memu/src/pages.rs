//! The emulator's page table: which pages are local, remote or in flight, the
//! registered ranges, and the CLOCK list used to choose eviction victims.
//!
//! Pages never touched have no entry (they read as zeros). Entries are keyed by
//! virtual page number so remap events can move them.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Present locally, evictable.
    Resident,
    /// Present locally but the kernel refused to move it (locked, not
    /// writable...). Counted against the budget, never chosen again.
    Pinned,
    /// In the remote store at `slot`.
    Remote,
    /// A remote read of this page is in flight (the slot is still valid).
    Fetching,
    /// Chosen by the evictor; its batch has not finished.
    Evicting,
}

#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub state: State,
    /// CLOCK reference bit: set when the page is faulted in or seen written.
    pub refbit: bool,
    /// The page's content differs from the remote copy (must be written back).
    pub dirty: bool,
    /// Store slot (backend-specific address or index) while Remote/Fetching.
    pub slot: u64,
}

/// Multiplicative hash of page numbers: cheaper than SipHash and good enough
/// for keys that are not attacker-chosen.
#[derive(Default)]
pub struct VpnHasher(u64);
impl Hasher for VpnHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub type PageMap = HashMap<u64, Page, BuildHasherDefault<VpnHasher>>;

#[derive(Default)]
pub struct PageTable {
    pub pages: PageMap,
    /// Page numbers in CLOCK order, the hand at the front: pages join at the
    /// back, so a page is looked at again only after every older one (a
    /// second-chance FIFO, which is CLOCK). May hold stale entries (pages that
    /// left the Resident state), dropped when the hand reaches them.
    pub clock: VecDeque<u64>,
    /// Registered ranges [start, end) in bytes, non-overlapping.
    pub regions: BTreeMap<u64, u64>,
    /// Pages counted against the local budget (Resident, Pinned, Evicting, and
    /// Fetching once installed).
    pub resident: u64,
    /// Pages remapped while the evictor had them in flight: old -> new page
    /// number, so the batch's outcome lands on the page's new address.
    pub evict_redirect: HashMap<u64, u64>,
    /// Addresses (page numbers) the evictor's current batch moves pages away
    /// from. A fault there must wait for the batch whatever the entry says:
    /// the program may have discarded or moved the victim meanwhile, and a
    /// page installed at that address before the evictor's move would be
    /// carried off by it.
    pub evict_inflight: HashSet<u64>,
}

impl PageTable {
    /// Where an in-flight victim chosen at `vpn` is now (it may have been
    /// remapped meanwhile), if it is still being evicted.
    pub fn evicting_at(&self, vpn: u64) -> Option<u64> {
        let mut v = vpn;
        for _ in 0..8 {
            if self.pages.get(&v).is_some_and(|p| p.state == State::Evicting) {
                return Some(v);
            }
            v = *self.evict_redirect.get(&v)?;
        }
        None
    }

    pub fn is_registered(&self, addr: u64) -> bool {
        self.regions.range(..=addr).next_back().is_some_and(|(_, &e)| addr < e)
    }

    pub fn add_region(&mut self, start: u64, end: u64) {
        self.remove_region(start, end);
        self.regions.insert(start, end);
    }

    pub fn remove_region(&mut self, start: u64, end: u64) {
        let overlapping: Vec<(u64, u64)> = self
            .regions
            .range(..end)
            .rev()
            .take_while(|(_, &e)| e > start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in overlapping {
            if e <= start {
                continue;
            }
            self.regions.remove(&s);
            if s < start {
                self.regions.insert(s, start);
            }
            if e > end {
                self.regions.insert(end, e);
            }
        }
    }

    pub fn registered_ranges(&self) -> Vec<(u64, u64)> {
        self.regions.iter().map(|(&s, &e)| (s, e)).collect()
    }

    /// A page became locally present.
    pub fn insert_resident(&mut self, vpn: u64, refbit: bool, dirty: bool) {
        let was = self.pages.insert(vpn, Page { state: State::Resident, refbit, dirty, slot: 0 });
        if !matches!(was.map(|p| p.state), Some(State::Resident | State::Pinned | State::Evicting)) {
            self.resident += 1;
        }
        self.clock.push_back(vpn);
    }

    /// Choose up to `max` victims with CLOCK: a page whose reference bit is set
    /// gets a second chance (the bit is cleared), otherwise it is taken.
    pub fn select_victims(&mut self, max: usize) -> Vec<u64> {
        let mut out = Vec::with_capacity(max);
        let mut budget = 2 * self.clock.len() + 1;
        while out.len() < max && budget > 0 {
            budget -= 1;
            let Some(vpn) = self.clock.pop_front() else { break };
            match self.pages.get_mut(&vpn) {
                Some(p) if p.state == State::Resident => {
                    if p.refbit {
                        p.refbit = false;
                        self.clock.push_back(vpn);
                    } else {
                        p.state = State::Evicting;
                        out.push(vpn);
                    }
                }
                _ => {} // stale
            }
        }
        out
    }

    /// Forget pages in [start, end) (the program discarded or unmapped them).
    /// Returns the store slots of remote copies that must be released
    /// (including those of pages being fetched: the fetch, finding the entry
    /// gone, installs nothing); Evicting pages are dropped here and the
    /// evictor, finding the entry gone, releases its copy.
    pub fn forget(&mut self, start: u64, end: u64, freed_slots: &mut Vec<u64>) {
        let (s, e) = (start >> 12, end.div_ceil(4096));
        let mut drop_one = |vpn: u64, p: Page, resident: &mut u64| {
            match p.state {
                State::Resident | State::Pinned | State::Evicting => *resident -= 1,
                State::Remote | State::Fetching => freed_slots.push(p.slot),
            }
            let _ = vpn;
        };
        if e - s > self.pages.len() as u64 {
            let victims: Vec<u64> = self.pages.keys().copied().filter(|v| *v >= s && *v < e).collect();
            for v in victims {
                let p = self.pages.remove(&v).unwrap();
                drop_one(v, p, &mut self.resident);
            }
        } else {
            for v in s..e {
                if let Some(p) = self.pages.remove(&v) {
                    drop_one(v, p, &mut self.resident);
                }
            }
        }
    }

    /// The program moved [from, from+len) to `to` (mremap): move the entries.
    pub fn remap(&mut self, from: u64, to: u64, len: u64) {
        let (s, n) = (from >> 12, len >> 12);
        let d = to >> 12;
        let mut moved = Vec::new();
        if n > self.pages.len() as u64 {
            let keys: Vec<u64> = self.pages.keys().copied().filter(|v| *v >= s && *v < s + n).collect();
            for v in keys {
                moved.push((v - s, self.pages.remove(&v).unwrap()));
            }
        } else {
            for i in 0..n {
                if let Some(p) = self.pages.remove(&(s + i)) {
                    moved.push((i, p));
                }
            }
        }
        for (i, mut p) in moved {
            // An in-flight read targets the old address; let the next fault
            // on the new address fetch the page again.
            if p.state == State::Fetching {
                p.state = State::Remote;
            }
            if p.state == State::Evicting {
                self.evict_redirect.insert(s + i, d + i);
            }
            if p.state == State::Resident {
                self.clock.push_back(d + i);
            }
            self.pages.insert(d + i, p);
        }
        self.remove_region(from, from + len);
        self.add_region(to, to + len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_gives_referenced_pages_a_second_chance() {
        let mut t = PageTable::default();
        t.insert_resident(1, true, false);
        t.insert_resident(2, false, false);
        t.insert_resident(3, true, false);
        let v = t.select_victims(1);
        assert_eq!(v, vec![2]);
        // All remaining bits were cleared by the sweep or will be: next pick is 1 or 3.
        let v = t.select_victims(2);
        let mut v2 = v.clone();
        v2.sort();
        assert_eq!(v2, vec![1, 3]);
        assert!(t.select_victims(1).is_empty());
        assert_eq!(t.resident, 3, "victims stay counted until their batch finishes");
    }

    #[test]
    fn clock_looks_at_older_pages_before_newer_ones() {
        // The hand must not reach a page that just arrived (a cluster fetched
        // by readahead) before the pages that were there before it.
        let mut t = PageTable::default();
        for v in 1..=5 {
            t.insert_resident(v, false, false);
        }
        assert_eq!(t.select_victims(2), vec![1, 2]);
        t.insert_resident(6, false, false);
        assert_eq!(t.select_victims(4), vec![3, 4, 5, 6]);
    }

    #[test]
    fn forget_releases_remote_slots_and_resident_count() {
        let mut t = PageTable::default();
        t.insert_resident(10, false, false);
        t.pages.insert(11, Page { state: State::Remote, refbit: false, dirty: false, slot: 77 });
        let mut freed = vec![];
        t.forget(10 << 12, 12 << 12, &mut freed);
        assert_eq!(freed, vec![77]);
        assert_eq!(t.resident, 0);
        assert!(t.pages.is_empty());
    }

    #[test]
    fn forget_releases_the_slot_of_a_page_being_fetched() {
        // The fetch finds the entry gone and installs nothing, so the slot
        // (still full) must be released here or it would leak.
        let mut t = PageTable::default();
        t.pages.insert(20, Page { state: State::Fetching, refbit: false, dirty: false, slot: 9 });
        let mut freed = vec![];
        t.forget(20 << 12, 21 << 12, &mut freed);
        assert_eq!(freed, vec![9]);
        assert_eq!(t.resident, 0);
    }

    #[test]
    fn remap_moves_entries_and_regions() {
        let mut t = PageTable::default();
        t.add_region(0x10000, 0x20000);
        t.pages.insert(0x10, Page { state: State::Remote, refbit: false, dirty: false, slot: 5 });
        t.remap(0x10000, 0x50000, 0x10000);
        assert_eq!(t.pages.get(&0x50).map(|p| p.slot), Some(5));
        assert!(!t.pages.contains_key(&0x10));
        assert!(t.is_registered(0x50000) && !t.is_registered(0x10000));
    }

    #[test]
    fn regions_split_on_partial_removal() {
        let mut t = PageTable::default();
        t.add_region(0, 100);
        t.remove_region(40, 60);
        assert_eq!(t.registered_ranges(), vec![(0, 40), (60, 100)]);
        assert!(t.is_registered(39) && !t.is_registered(40) && t.is_registered(60));
    }
}
