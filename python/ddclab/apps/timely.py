"""Timely Dataflow PageRank (apps/timely-pagerank, a standalone Cargo project).

The study ran Timely Dataflow's PageRank on the Twitter follower graph (41 M
nodes, 1.5 G edges). Here the graph is generated: edge e gets source
floor(N u1^2) and destination floor(N u2^3) for uniform u1, u2 drawn from a
counter-based splitmix64 of (seed, e), both mapped through i -> (a i + b) mod N
so the popular nodes are spread over the id space; in-degrees follow a power
law (P(deg > x) ~ x^-1.5, close to Twitter's follower tail). Ranks are
fixed-point integers so the result does not depend on the number of workers or
on message order; :func:`reference_pagerank` below recomputes it in pure Python
(the tests compare the two).

The Rust program is built with cargo, once per source content, into the app
cache (like the C helpers of :mod:`.base`); it needs crates.io the first time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import DdclabError
from .base import SOURCES, App, cache_dir

PROJECT = SOURCES / "timely-pagerank"
NAME = "timely-pagerank"
#: nodes, edges, iterations, worker threads per scale. small: ~1-2 s unemulated
#: on the 2-core VM; paper: a few million edges per core, minutes.
SIZES = {"tiny": (2_000, 16_000, 5, 1), "small": (300_000, 4_000_000, 10, 2), "paper": (4_000_000, 64_000_000, 20, 2)}
SEED = 7

ONE = 1 << 20
BASE = ONE * 15 // 100
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


# ----------------------------------------------------------- reference (Python)

def splitmix(seed: int, k: int) -> int:
    z = (seed + ((k + 1) * _GOLDEN & _MASK)) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _unit(x: int) -> float:
    return (x >> 11) * (1.0 / (1 << 53))


def permutation(n: int) -> tuple[int, int]:
    a = max(1, int(n * 0.618))
    while _gcd(a, n) != 1:
        a += 1
    return a, n // 3


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def generate_edges(nodes: int, edges: int, seed: int) -> list[tuple[int, int]]:
    """The graph of ``timely-pagerank NODES EDGES ITERS SEED`` (same formulas)."""
    if nodes < 2 or edges < 0:
        raise DdclabError(f"graph: need at least 2 nodes and a non-negative edge count (got {nodes}, {edges})")
    a, b = permutation(nodes)
    out = []
    for e in range(edges):
        u1 = _unit(splitmix(seed, 2 * e))
        u2 = _unit(splitmix(seed, 2 * e + 1))
        s = min(int(nodes * (u1 * u1)), nodes - 1)
        d = min(int(nodes * (u2 * u2 * u2)), nodes - 1)
        out.append(((a * s + b) % nodes, (a * d + b) % nodes))
    return out


def reference_pagerank(nodes: int, edge_list: list[tuple[int, int]], iters: int) -> list[int]:
    """Fixed-point PageRank, exactly as the Rust program computes it."""
    outs: list[list[int]] = [[] for _ in range(nodes)]
    for s, d in edge_list:
        outs[s].append(d)
    rank = [ONE] * nodes
    for _ in range(iters):
        incoming = [0] * nodes
        for s in range(nodes):
            if outs[s]:
                share = rank[s] * 85 // 100 // len(outs[s])
                for d in outs[s]:
                    incoming[d] += share
        rank = [BASE + x for x in incoming]
    return rank


def checksum(rank: list[int]) -> str:
    h = 0xCBF29CE484222325
    for v, r in enumerate(rank):
        h = (((h ^ r) * 0x100000001B3) & _MASK) ^ v
    return f"{h:016x}"


def parse_output(out: str) -> dict:
    m = re.search(r"^OK pagerank nodes=(\d+) edges=(\d+) iters=(\d+) checksum=([0-9a-f]{16}) total=(\d+) top=(\S+)", out, re.M)
    if not m:
        raise DdclabError(f"timely-pagerank printed no result: {out.strip()[-200:]!r}")
    top = [tuple(int(x) for x in t.split(":")) for t in m.group(6).split(",")]
    return {"nodes": int(m.group(1)), "edges": int(m.group(2)), "iters": int(m.group(3)), "checksum": m.group(4),
            "total": int(m.group(5)), "top": top}


# ------------------------------------------------------------------ the binary

def _source_digest() -> str:
    h = hashlib.sha256()
    files = [PROJECT / "Cargo.toml", PROJECT / "Cargo.lock", *sorted((PROJECT / "src").glob("*.rs"))]
    for f in files:
        if not f.is_file():
            raise DdclabError(f"{NAME}: source {f} is missing (ddclab must run from its repository)")
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def binary_path() -> Path:
    return cache_dir() / "bin" / f"{NAME}-{_source_digest()}"


def _cargo() -> str | None:
    return shutil.which("cargo") or next((str(p) for p in [Path.home() / ".cargo" / "bin" / "cargo"] if p.is_file()), None)


def binary() -> Path:
    """Build apps/timely-pagerank once per source content (cargo, release)."""
    out = binary_path()
    if out.is_file():
        return out
    cargo = _cargo()
    if cargo is None:
        raise DdclabError(f"{NAME}: cargo not found (install Rust: https://rustup.rs)")
    target = cache_dir() / "build" / NAME
    r = subprocess.run([cargo, "build", "--release", "--locked", "-q", "--manifest-path", str(PROJECT / "Cargo.toml")],
                       env=dict(os.environ, CARGO_TARGET_DIR=str(target)), capture_output=True, text=True)
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        raise DdclabError(f"{NAME}: cargo build failed: {lines[-1] if lines else 'no message'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    shutil.copy2(target / "release" / NAME, tmp)
    tmp.rename(out)
    return out


def _install() -> None:
    binary()


def _unavailable() -> str | None:
    if binary_path().is_file():
        return None
    if _cargo() is None:
        return f"{NAME} is not built and cargo is not installed (install Rust, then scripts/setup-apps.sh {NAME})"
    return None  # built on first use (about a minute; needs crates.io once)


def command(scale: str) -> list[str]:
    nodes, edges, iters, workers = SIZES[scale]
    return [str(binary()), str(nodes), str(edges), str(iters), str(SEED), "-w", str(workers)]


PAGERANK = App(
    name=NAME, title="Timely Dataflow PageRank (power-law graph)", metric="runtime",
    substitution=("Twitter follower graph replaced by a generated power-law graph (in-degree tail ~ x^-1.5, popular nodes "
                  "spread over the id space), seeded; Timely 0.12 with 2 worker threads; fixed-point ranks so the result "
                  "is exact and checkable; nodes/edges/iterations scaled per --scale."),
    # Not heavy: small enough for `--scale small` (seconds per run; only its 10%
    # local points thrash, and the time limit cuts those off).
    install=_install, unavailable=_unavailable, command=command, heavy=False)
