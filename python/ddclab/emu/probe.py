"""End-to-end fault cost, measured by memu-faultcost running under the shim.

Every sample is the time a program waits on one access to a page that is not
resident (checked with mincore first): trap, handler wake-up, lookup, injected
delay, install and wake-up of the faulting thread. With zero injected delay it
is the emulator's own per-fault cost -- the number to compare with the study's
2.46 us kernel software overhead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from dataclasses import dataclass

from ..errors import DdclabError
from . import paths
from .runner import own_blade, Settings


@dataclass
class Distribution:
    samples: int
    min_us: float
    avg_us: float
    median_us: float
    p99_us: float
    p995_us: float
    max_us: float

    @classmethod
    def of(cls, ns: list[int]) -> "Distribution":
        if not ns:
            raise DdclabError("the fault-cost probe collected no samples")
        s = sorted(ns)
        n = len(s)

        def q(x: float) -> float:
            return s[min(n - 1, int(x * n))] / 1000.0

        return cls(n, s[0] / 1000.0, sum(s) / n / 1000.0, q(0.5), q(0.99), q(0.995), s[-1] / 1000.0)


def uffd_floor(samples: int = 4000, spin: bool = False) -> Distribution:
    """A bare userfaultfd round trip on this machine, without the emulator
    (memu-uffd-floor): the floor under `fault_cost` at zero delay."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("DDCLAB_MEMU_")}
    r = subprocess.run([str(paths.tool(paths.FLOOR)), str(samples), "1" if spin else "0"], env=env, capture_output=True,
                       text=True, timeout=120)
    return _samples(r, "userfaultfd floor probe")


def _samples(r: subprocess.CompletedProcess, what: str) -> Distribution:
    """The distribution a measurement tool printed, or its last error line."""
    if r.returncode != 0:
        raise DdclabError(f"{what} failed: {(r.stderr.strip().splitlines() or ['exit %d' % r.returncode])[-1]}")
    return Distribution.of(json.loads(r.stdout)["samples_ns"])


def fault_cost(settings: Settings, pages: int = 4096, samples: int = 1000, local_pages: int = 256) -> Distribution:
    s = Settings(**{**settings.__dict__})
    s.local_pages = local_pages
    s.readahead = 1  # one fault, one page: the sample is a single miss
    env = dict(os.environ)
    env.update(s.env())
    env["LD_PRELOAD"] = str(paths.shim())
    exe = paths.tool(paths.FAULTCOST)
    blade = None
    tmp = Path(tempfile.mkdtemp(prefix="ddclab-emu-"))
    try:
        blade = own_blade(s.backend, tmp, env)
        r = subprocess.run([str(exe), str(pages), str(samples), "1"], env=env, capture_output=True, text=True)
    finally:
        if blade is not None:
            blade.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return _samples(r, "fault-cost probe")
