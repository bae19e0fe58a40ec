"""memcached driven by a YCSB-style load generator (apps/ycsb/ycsbgen.c).

The study ran memcached under YCSB workloads A (50% read / 50% update) and B
(95/5) with zipfian keys. YCSB itself is Java from Maven Central; ycsbgen is a
C rewrite of its core workload (same key naming, scrambled zipfian with theta
0.99, closed-loop clients), so the client costs little CPU beside the server
on a 2-core machine. memcached comes from the distribution (apt).
"""

from __future__ import annotations

import os
import re
import shutil

from ..errors import DdclabError
from .base import App, Server, apt_install, build_c

#: records, operations, value bytes, client threads. small: 30 MB of items;
#: each emulated run reloads them, which took as long as the timed phase, so
#: 60,000 records put `--scale small` over its 30 minutes on a slow VM.
SIZES = {"tiny": (2_000, 4_000, 1000, 1), "small": (30_000, 30_000, 1000, 2), "paper": (1_000_000, 2_000_000, 1000, 2)}


def ycsbgen():
    return build_c("ycsb/ycsbgen.c", "ycsbgen")


def _install() -> None:
    apt_install(["memcached"], ["memcached"], "memcached")
    ycsbgen()


def _unavailable() -> str | None:
    if shutil.which("memcached") is None:
        return "memcached is not installed (scripts/setup-apps.sh, or apt-get install -y memcached)"
    try:
        ycsbgen()
    except DdclabError as exc:
        return str(exc)
    return None


def _parse(out: str) -> dict:
    m = re.search(r"ops_per_s=([0-9.]+)", out)
    if not m:
        raise DdclabError(f"ycsbgen printed no result: {out.strip()[:200]!r}")
    return {"ops_per_s": float(m.group(1))}


def _server(workload: str):
    def server(scale: str) -> Server:
        records, ops, value, threads = SIZES[scale]
        mem_mb = max(64, records * (value + 200) // 1_000_000 * 2)
        gen = str(ycsbgen())

        def argv(port: int) -> list[str]:
            # Two worker threads (the study's servers were multi-threaded); the
            # item cache grows on demand (no -L), from the workers' mallocs.
            a = [shutil.which("memcached") or "memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", "2", "-m", str(mem_mb)]
            if os.geteuid() == 0:
                a += ["-u", "root"]  # memcached refuses to run as root without it
            return a

        return Server(
            argv=argv,
            prepare=lambda port: [[gen, "127.0.0.1", str(port), "load", workload, str(records), "0", str(value), str(threads), "1"]],
            client=lambda port: [gen, "127.0.0.1", str(port), "run", workload, str(records), str(ops), str(value), str(threads), "2"],
            parse=_parse,
        )

    return server


SUB = ("YCSB (Java) replaced by ycsbgen, a C rewrite of its core workload: 1000-byte values (YCSB: 10 fields x 100 B), "
       "scrambled zipfian keys (theta 0.99), load phase then timed run phase; records/operations scaled down per --scale.")
A = App(name="memcached-a", title="memcached, YCSB workload A (50% read / 50% update)", metric="throughput",
        substitution=SUB, install=_install, unavailable=_unavailable, server=_server("a"))
B = App(name="memcached-b", title="memcached, YCSB workload B (95% read / 5% update)", metric="throughput",
        substitution=SUB, install=_install, unavailable=_unavailable, server=_server("b"))
