"""Pages round-trip byte-identical under eviction pressure.

memtest fills memory with a position-dependent pattern, churns it so pages go
remote and come back many times, and checks every word (exit 3 on the first
mismatch). Each test also checks, from the shim's counters, that the pressure
was real: pages were evicted and fetched back."""

from __future__ import annotations

import pytest

from ddclab.emu import runner


def run(memtest, mode, mb, local_pages, **kw):
    s = runner.Settings(local_pages=local_pages, **kw)
    return runner.run_once([str(memtest), mode, str(mb)], s, quiet=True)


@pytest.mark.parametrize("mode", ["basic", "threads", "fork", "mremap"])
def test_round_trip_under_eviction_pressure(memtest, memu_dir, mode):
    r = run(memtest, mode, 8, 256)
    assert r.returncode == 0, f"{mode}: {r.status_text()} (3 = data mismatch)"
    t = r.summary.totals
    assert t["pages_evicted"] > 1000, t
    assert t["pages_fetched"] > 1000, t
    assert t["remote_faults"] > 100, t


def test_fork_child_runs_its_own_emulator(memtest, memu_dir):
    r = run(memtest, "fork", 8, 256)
    assert r.returncode == 0
    assert r.summary.processes == 2, "the child starts an emulator of its own"
    assert r.summary.totals["fork_prefetch"] > 0, "remote pages were brought home before fork"


def test_budget_is_respected(memtest, memu_dir):
    r = run(memtest, "basic", 8, 300)
    assert r.returncode == 0
    # Faults never take the resident set past the budget; only pages the
    # program touched before the emulator found their mapping (glibc-internal
    # heap growth, found by rescan) can, until the evictor catches up.
    late = r.summary.totals["late_pages"]
    assert r.summary.root_peak_pages <= 300 + late, (r.summary.root_peak_pages, late)


def test_without_dirty_tracking_every_eviction_is_written_back(memtest, memu_dir):
    r = run(memtest, "basic", 8, 256, dirty_tracking=False)
    assert r.returncode == 0
    t = r.summary.totals
    assert t["pages_written_back"] == t["pages_evicted"]


def test_dirty_tracking_skips_clean_pages(memtest, memu_dir):
    # basic churns read-only after the fill: most evictions are of clean pages.
    r = run(memtest, "basic", 8, 256)
    t = r.summary.totals
    assert r.returncode == 0
    assert t["pages_written_back"] < t["pages_evicted"] / 2, t


def test_pages_a_write_fault_brings_in_are_written_back(memtest, memu_dir):
    """`memtest rewrite`: fill 8 MiB, then 3 rounds of write faults on every
    page, then one read of each page (the check). Only pages the check reads
    back can leave clean, at most once each (2048); every other eviction is
    of a page written since its fetch. The old handler write-protected a
    page after waking the faulting thread, which often wrote first: the write
    went unseen and 4,400 of 10,000 evictions counted as clean."""
    r = run(memtest, "rewrite", 8, 256, readahead=1)  # every fetched page is a faulting one
    t = r.summary.totals
    assert r.returncode == 0, r.status_text()
    assert t["remote_faults"] > 5000, t
    assert t["pages_evicted"] - t["pages_written_back"] <= 2048, t


def test_injected_delay_is_accounted(memtest, memu_dir):
    r = run(memtest, "basic", 4, 256, latency_ns=20_000, readahead=1)
    assert r.returncode == 0
    t = r.summary.totals
    assert t["remote_faults"] > 0
    # Every remote read paid at least the injected 20 us.
    assert t["injected_ns"] >= 20_000 * t["remote_faults"]


@pytest.mark.parametrize("backend", ["tcp", "shm"])
@pytest.mark.parametrize("mode", ["basic", "threads", "mremap"])
def test_round_trip_through_a_memory_blade(memtest, memu_dir, backend, mode):
    r = run(memtest, mode, 4, 256, backend=backend)
    assert r.returncode == 0, f"{backend}/{mode}: {r.status_text()} (3 = data mismatch)"
    t = r.summary.totals
    assert t["pages_evicted"] > 500 and t["pages_fetched"] > 500, t


@pytest.mark.parametrize("backend", ["tcp", "shm"])
def test_fork_with_a_blade(memtest, memu_dir, backend):
    r = run(memtest, "fork", 4, 256, backend=backend)
    assert r.returncode == 0, r.status_text()
    assert r.summary.processes == 2


def test_contiguous_victims_leave_with_one_move(memtest, memu_dir):
    # basic fills 8 MiB in order: the oldest pages, which CLOCK takes first,
    # are contiguous, so most leave in runs (one UFFDIO_MOVE, one TLB flush,
    # per run) and the data still round-trips.
    r = run(memtest, "basic", 8, 256)
    assert r.returncode == 0
    t = r.summary.totals
    assert 0 < t["evict_moves"] < t["pages_evicted"] / 4, t
