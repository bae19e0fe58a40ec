//! Which mappings the emulator manages.
//!
//! Emulated: private anonymous memory -- the main heap, glibc malloc arenas and
//! its large-chunk mmaps, and any private anonymous mmap of the program (JVM and
//! Python heaps are such mmaps). Not emulated: file-backed and shared mappings
//! (they have a backing store of their own), the main stack, kernel-provided
//! areas ([vdso], [vvar]...), the .bss of loaded objects (an anonymous mapping
//! directly above a file mapping: it holds the C library's and the shim's own
//! globals), thread stacks (see `is_thread_stack`), and the shim's private
//! memory.
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

/// Largest guard area taken as a thread stack's guard (glibc's default is
/// one page; programs may ask for more with pthread_attr_setguardsize).
pub const MAX_GUARD: u64 = 1 << 20;

/// Is `m` a thread stack? glibc allocates a thread's stack with its internal
/// mmap (which the shim cannot interpose) and protects its lowest pages as a
/// guard, so in /proc/self/maps a stack is a private anonymous read-write
/// mapping right above a small private anonymous `---p` mapping. Thread stacks
/// must stay local: the shim's hooks (malloc, mmap, brk, fork) run on the
/// calling thread's stack, some with the emulator's lock held, and a fault on
/// that stack would need the handler, which needs the same lock (deadlock).
/// glibc malloc arenas have their `---p` reserve *above* the used part, so
/// they do not match; a false match only leaves a mapping local.
pub fn is_thread_stack(prev: Option<&MapEntry>, m: &MapEntry) -> bool {
    let Some(g) = prev else { return false };
    g.end == m.start
        && g.private
        && g.inode == 0
        && !g.read
        && !g.write
        && (g.path.is_empty() || g.path.contains("guard"))
        && g.end - g.start <= MAX_GUARD
        && m.read
        && m.write
        // glibc >= 2.40 can name them (tunable glibc.mem.decorate_maps).
        && (m.path.is_empty() || (m.path.starts_with("[anon:") && m.path.contains("stack")))
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
        if is_thread_stack(prev, m) {
            return false;
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
    fn thread_stacks_are_not_candidates() {
        // Two glibc thread stacks (one-page guard below 8 MiB), and a malloc
        // arena (used part below its PROT_NONE reserve) followed by an
        // ordinary mapping above a large reserve.
        let maps = parse_maps(
            "\
7e61d8000000-7e61d8021000 rw-p 00000000 00:00 0 
7e61d8021000-7e61dc000000 ---p 00000000 00:00 0 
7e61dc000000-7e61dc100000 rw-p 00000000 00:00 0 
7e61e7bfd000-7e61e7bfe000 ---p 00000000 00:00 0 
7e61e7bfe000-7e61e83fe000 rw-p 00000000 00:00 0 
7e61e83fe000-7e61e83ff000 ---p 00000000 00:00 0 
7e61e83ff000-7e61e8bff000 rw-p 00000000 00:00 0 
",
        );
        let c = candidates(&maps, &[]);
        assert_eq!(
            c,
            vec![
                (0x7e61d8000000, 0x7e61d8021000),
                (0x7e61d8021000, 0x7e61dc000000),
                (0x7e61dc000000, 0x7e61dc100000),
                (0x7e61e7bfd000, 0x7e61e7bfe000),
                (0x7e61e83fe000, 0x7e61e83ff000),
            ],
            "arena, its reserve and the mapping above it stay; both stacks (not their guards) are left out"
        );
    }

    #[test]
    fn exclusions_cut_ranges() {
        let mut out = Vec::new();
        subtract((0, 100), &[(10, 20), (90, 200)], &mut out);
        assert_eq!(out, vec![(0, 10), (20, 90)]);
    }
}
