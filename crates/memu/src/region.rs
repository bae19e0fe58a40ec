//! Which mappings the emulator manages.
//!
//! Emulated: private anonymous memory -- the main heap, glibc malloc arenas and
//! its large-chunk mmaps, and any private anonymous mmap of the program (JVM and
//! Python heaps are such mmaps). Not emulated: file-backed and shared mappings
//! (they have a backing store of their own), the main stack, kernel-provided
//! areas ([vdso], [vvar]...), the .bss of loaded objects (an anonymous mapping
//! directly above a file mapping: it holds the C library's and the shim's own
//! globals), and the shim's private memory.
//!
//! glibc's own mmap/brk calls cannot be interposed, so regions are found both
//! from the interposed calls and by rescanning /proc/self/maps.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    pub start: u64,
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub private: bool,
    pub inode: u64,
    pub path: String,
}

/// Parse the text of /proc/PID/maps. Malformed lines are skipped: the kernel
/// writes this file, and a scan must never fail the emulated program.
pub fn parse_maps(text: &str) -> Vec<MapEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.splitn(6, ' ');
        let (Some(range), Some(perms), Some(_off), Some(_dev), Some(inode)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let path = it.next().unwrap_or("").trim().to_string();
        let Some((a, b)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end), Ok(inode)) =
            (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16), inode.parse::<u64>())
        else {
            continue;
        };
        let p = perms.as_bytes();
        if p.len() < 4 {
            continue;
        }
        out.push(MapEntry {
            start,
            end,
            read: p[0] == b'r',
            write: p[1] == b'w',
            private: p[3] == b'p',
            inode,
            path,
        });
    }
    out
}

/// Is this mapping one the emulator should register?
pub fn is_candidate(prev: Option<&MapEntry>, m: &MapEntry) -> bool {
    if !m.private || m.inode != 0 {
        return false;
    }
    let named_ok = m.path.is_empty() || m.path == "[heap]" || m.path.starts_with("[anon:");
    if !named_ok {
        return false;
    }
    if m.path != "[heap]" {
        if let Some(p) = prev {
            // .bss / zero-fill tail of a loaded object.
            if p.end == m.start && p.inode != 0 {
                return false;
            }
        }
    }
    true
}

/// Candidate ranges of a maps snapshot, minus `exclude` ranges.
pub fn candidates(maps: &[MapEntry], exclude: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for (i, m) in maps.iter().enumerate() {
        let prev = if i > 0 { Some(&maps[i - 1]) } else { None };
        if !is_candidate(prev, m) {
            continue;
        }
        subtract((m.start, m.end), exclude, &mut out);
    }
    out
}

/// Push the parts of `r` not covered by any of `ex` onto `out`.
pub fn subtract(r: (u64, u64), ex: &[(u64, u64)], out: &mut Vec<(u64, u64)>) {
    let mut pieces = vec![r];
    for &(es, ee) in ex {
        let mut next = Vec::with_capacity(pieces.len() + 1);
        for (s, e) in pieces {
            if ee <= s || es >= e {
                next.push((s, e));
                continue;
            }
            if s < es {
                next.push((s, es));
            }
            if ee < e {
                next.push((ee, e));
            }
        }
        pieces = next;
    }
    out.extend(pieces.into_iter().filter(|(s, e)| e > s));
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0000000-55d0c0001000 r--p 00000000 08:01 1234 /usr/bin/prog
55d0c0001000-55d0c0002000 rw-p 00001000 08:01 1234 /usr/bin/prog
55d0c0002000-55d0c0003000 rw-p 00000000 00:00 0 
55d0c1000000-55d0c1100000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 
7f0000100000-7f0000200000 rw-s 00000000 00:01 99 /dev/zero (deleted)
7f0000280000-7f0000300000 ---p 00000000 00:00 0 
7f0000300000-7f0000400000 rw-p 00000000 00:00 0 [anon:jvm heap]
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
";

    #[test]
    fn picks_heap_and_private_anonymous_only() {
        let maps = parse_maps(MAPS);
        assert_eq!(maps.len(), 10);
        let c = candidates(&maps, &[]);
        assert_eq!(
            c,
            vec![
                (0x55d0c1000000, 0x55d0c1100000),
                (0x7f0000000000, 0x7f0000100000),
                (0x7f0000280000, 0x7f0000300000),
                (0x7f0000300000, 0x7f0000400000),
            ],
            "bss after the binary, shared, stack and vsyscall are excluded"
        );
    }

    #[test]
    fn exclusions_cut_ranges() {
        let mut out = Vec::new();
        subtract((0, 100), &[(10, 20), (90, 200)], &mut out);
        assert_eq!(out, vec![(0, 10), (20, 90)]);
    }
}
