"""Races between the program's address-space changes and the emulator at tiny
budgets (docs/notes-for-emu.md, item 3): every fault must be served and every
byte must come back.

`memtest churn` runs, at once, threads that mmap / mremap (moving) /
madvise(DONTNEED) / munmap+mmap their regions and check every byte after each
step, threads that write counters at random while the evictor moves their pages
(the kernel then retries moves internally), and a pair that discards an area
while the other thread reads it. Before the fixes this hung (a fault answered
with a bare wake, forever) in about three runs out of four; a hang fails the
test at its timeout instead of stalling the suite.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ddclab.emu import paths, runner, stats

TIMEOUT_S = 120


def run_timed(argv, local_pages: int, stats_dir: Path, timeout_s: float = TIMEOUT_S):
    env = dict(os.environ)
    env.update(runner.Settings(local_pages=local_pages).env())
    env["DDCLAB_MEMU_STATS_DIR"] = str(stats_dir)
    env["LD_PRELOAD"] = str(paths.shim())
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        procs = stats.read_dir(stats_dir)
        faults = sum(p.counters["faults"] for p in procs)
        pytest.fail(f"{argv[1:]} hung: no exit within {timeout_s} s ({faults} fault messages; stderr {err[-300:]!r})")
    procs = stats.read_dir(stats_dir)
    assert procs, "the program ran without the emulator"
    return proc.returncode, out, err, stats.summarize(procs, proc.pid).totals


@pytest.mark.parametrize("attempt", [1, 2])
def test_address_space_churn_under_a_tiny_budget(memtest, memu_dir, tmp_path, attempt):
    rc, out, err, t = run_timed([str(memtest), "churn", "4"], 64, tmp_path)
    assert rc == 0 and "OK churn" in out, f"exit {rc} (3 = data mismatch): {err[-500:]}"
    # The pressure and the events were real.
    assert t["pages_evicted"] > 10_000, t
    assert t["remote_faults"] > 1_000, t
    assert t["events"] > 1_000, t



def test_evicted_pages_come_back_into_a_read_only_mapping(memtest, memu_dir, tmp_path):
    """UFFDIO_MOVE refuses to move a page into a mapping whose protection
    differs from the store's: pages evicted while writable and read after
    mprotect(PROT_READ) were refetched forever (EINVAL, "fetch failed"). They
    come back by copy now; the read-only pages cannot be evicted, so the
    budget is overshot at once instead of after a 20 ms stall per fault."""
    rc, out, err, t = run_timed([str(memtest), "mprotect", "8"], 256, tmp_path, timeout_s=60)
    assert rc == 0 and "OK mprotect" in out, f"exit {rc} (3 = data mismatch): {err[-500:]}"
    assert t["remote_faults"] > 100, t
    assert "fetch of page" not in err, err[-500:]
