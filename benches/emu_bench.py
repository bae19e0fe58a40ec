"""Benchmark of the remote-memory emulator (`make bench` runs it).

Prints:
  * the end-to-end cost of one remote-memory fault at zero injected delay
    (median, p99), measured by memu-faultcost under the shim, for the default
    sleeping handler and the spinning one -- the emulator's own per-fault cost,
    to compare with the study's 2.46 us kernel software overhead;
  * the handler's own share of it (from the shim's counters);
  * the eviction throughput: pages the evictor moves out per second of its busy
    time, and the sustained rate while a program streams through memory with a
    small local budget.

Timings depend on the machine and its load; run on an idle machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from ddclab.emu import idle, paths, probe, runner  # noqa: E402


def main() -> None:
    print("emulator benchmark (in-process backend, zero injected delay)")
    for mode in ("off", "auto"):
        with idle.Holder(mode) as ip:
            print(f"  {ip.describe()}:")
            if mode == "auto" and not ip.active:
                continue
            for spin in (False, True):
                d = probe.uffd_floor(4000, spin)
                print(f"    floor: bare userfaultfd round trip, no emulator, {'spinning' if spin else 'sleeping'} server: "
                      f"median {d.median_us:.2f} us, p99 {d.p99_us:.2f} us, min {d.min_us:.2f} us")
            for spin in (False, True):
                for dirty in (True, False):
                    d = probe.fault_cost(runner.Settings(spin=spin, dirty_tracking=dirty), pages=8192, samples=4000, local_pages=256)
                    print(f"    fault cost, {'spinning' if spin else 'sleeping'} handler, dirty tracking {'on ' if dirty else 'off'}: "
                          f"median {d.median_us:.2f} us, p99 {d.p99_us:.2f} us, min {d.min_us:.2f} us ({d.samples} faults)")
    # The rest as the commands run it (--idle-poll auto).
    with idle.Holder("auto") as ip:
        print(f"  {ip.describe()}:")
        handler_and_eviction()


def handler_and_eviction() -> None:
    # The handler's own share of a remote fault (fault read -> page installed).
    fc = runner.run_once([str(paths.tool(paths.FAULTCOST)), "8192", "4000", "1"],
                         runner.Settings(local_pages=256, readahead=1), quiet=True)
    print(f"  handler share per remote fault: median {(fc.summary.overhead_median_ns or 0) / 1000:.2f} us, "
          f"p99 {(fc.summary.overhead_p99_ns or 0) / 1000:.2f} us (the rest is the trap and two wake-ups)")
    pages = 32768
    s = runner.Settings(local_pages=256, readahead=1)
    r = runner.run_once([str(paths.tool(paths.FAULTCOST)), str(pages), "1", "1"], s, quiet=True)
    t = r.summary.totals
    busy = t["evict_ns"] / 1e9
    rate = t["pages_evicted"] / busy if busy > 0 else float("nan")
    print(f"  handler share per zero-fill (first-touch) fault: median {(r.summary.zero_fill_median_ns or 0) / 1000:.2f} us")
    print(f"  eviction throughput: {rate:,.0f} pages/s of evictor busy time ({rate * 4096 / 1e9:.2f} GB/s), "
          f"{t['pages_evicted']} pages in {t['evict_batches']} batches")
    print(f"  streaming {pages} pages through a 256-page budget: {pages / r.runtime_s:,.0f} pages/s end to end "
          f"({r.runtime_s:.2f} s, incl. one zero-fill fault per page)")


if __name__ == "__main__":
    main()
