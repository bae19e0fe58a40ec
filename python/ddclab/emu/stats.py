"""Read the shim's per-process counter files (layout: crates/memu/src/stats.rs)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = 0x3154_5453_554D_4444
VERSION = 4
HIST_BUCKETS = 1200
HEADER = 4


def bucket_range(i: int) -> tuple[int, int]:
    """[lo, hi) in ns of histogram bucket i (inverse of stats.rs `bucket`)."""
    if i < 64:
        return i, i + 1
    k = i - 64
    e = k // 32 + 1
    m = k % 32 + 32
    return m << e, (m + 1) << e

COUNTERS = [
    "faults", "zero_fills", "remote_faults", "pages_fetched", "fetch_batches",
    "pages_evicted", "evict_batches", "pages_written_back", "evict_skipped",
    "resident", "peak_resident", "budget", "handler_ns", "injected_ns", "stall_ns",
    "registered", "rescans", "trace_records", "trace_dropped", "fork_prefetch",
    "events", "start_ns", "evict_races", "evict_ns", "late_pages",
    "move_misreports", "stale_local", "markers_cleared", "hook_requests",
    "uffd_closed", "evict_moves",
]


@dataclass
class ProcStats:
    pid: int
    path: Path
    counters: dict[str, int]
    hist_remote: list[int] = field(repr=False)
    hist_zero: list[int] = field(repr=False)


def read(path: Path) -> ProcStats | None:
    data = path.read_bytes()
    if len(data) < 8 * HEADER:
        return None
    words = struct.unpack(f"<{len(data) // 8}Q", data[: len(data) // 8 * 8])
    if words[0] != MAGIC or words[1] != VERSION:
        return None
    n = words[2]
    if n != len(COUNTERS) or len(words) < HEADER + n + 2 * HIST_BUCKETS:
        raise ValueError(f"{path}: stats layout has {n} counters, this ddclab expects {len(COUNTERS)}")
    c = dict(zip(COUNTERS, words[HEADER : HEADER + n]))
    h0 = list(words[HEADER + n : HEADER + n + HIST_BUCKETS])
    h1 = list(words[HEADER + n + HIST_BUCKETS : HEADER + n + 2 * HIST_BUCKETS])
    return ProcStats(pid=words[3], path=path, counters=c, hist_remote=h0, hist_zero=h1)


def read_dir(d: Path) -> list[ProcStats]:
    out = []
    for p in sorted(d.glob("*.stats")):
        s = read(p)
        if s is not None:
            out.append(s)
    return out


#: counters that are a current level, not a running total
GAUGES = ("resident", "peak_resident", "budget", "start_ns")


def since(before: list[ProcStats], after: list[ProcStats]) -> list[ProcStats]:
    """What happened between two readings of the same run's counters (e.g. a
    server's timed phase after its loading): running totals and histograms
    are differences; levels (resident, peak, budget) are the later reading's.
    A process that appeared in between counts from zero."""
    old = {p.path: p for p in before}
    out = []
    for p in after:
        b = old.get(p.path)
        if b is None or b.pid != p.pid:
            out.append(p)
            continue
        c = {k: (v if k in GAUGES else v - b.counters[k]) for k, v in p.counters.items()}
        out.append(ProcStats(p.pid, p.path, c, [x - y for x, y in zip(p.hist_remote, b.hist_remote)],
                             [x - y for x, y in zip(p.hist_zero, b.hist_zero)]))
    return out


def hist_percentile(hist: list[int], q: float) -> float | None:
    """Value (ns, bucket midpoint, ~3% resolution) at quantile q in [0, 1]; None if empty."""
    total = sum(hist)
    if total == 0:
        return None
    target = q * (total - 1)
    run = 0
    for i, c in enumerate(hist):
        run += c
        if run > target:
            lo, hi = bucket_range(i)
            return (lo + hi) / 2
    lo, hi = bucket_range(len(hist) - 1)
    return float(lo)


@dataclass
class Summary:
    """Totals over every process of one run, plus the root process's peak."""

    totals: dict[str, int]
    root_peak_pages: int
    processes: int
    overhead_median_ns: float | None
    overhead_p99_ns: float | None
    overhead_mean_ns: float | None
    zero_fill_median_ns: float | None


def summarize(procs: list[ProcStats], root_pid: int) -> Summary:
    totals = {k: 0 for k in COUNTERS if k not in GAUGES}
    h0 = [0] * HIST_BUCKETS
    h1 = [0] * HIST_BUCKETS
    peak = 0
    for p in procs:
        for k in totals:
            totals[k] += p.counters[k]
        h0 = [a + b for a, b in zip(h0, p.hist_remote)]
        h1 = [a + b for a, b in zip(h1, p.hist_zero)]
        if p.pid == root_pid:
            peak = max(peak, p.counters["peak_resident"])
    if peak == 0 and procs:
        peak = max(p.counters["peak_resident"] for p in procs)
    rf = totals["remote_faults"]
    return Summary(
        totals=totals,
        root_peak_pages=peak,
        processes=len(procs),
        overhead_median_ns=hist_percentile(h0, 0.5),
        overhead_p99_ns=hist_percentile(h0, 0.99),
        overhead_mean_ns=(totals["handler_ns"] / rf) if rf else None,
        zero_fill_median_ns=hist_percentile(h1, 0.5),
    )
