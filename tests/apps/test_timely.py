"""Timely PageRank: the graph generator and the pure-Python reference.

CI does not build the Rust program (a cold build of timely takes about a
minute and needs crates.io). Instead:
- the reference is checked against hand-computed ranks and PageRank's
  invariants;
- ``GOLDEN`` holds what the Rust program printed for small graphs; the
  reference must reproduce it bit for bit (so generator or rank-formula drift
  on either side fails here, without building it);
- ``test_rust_program_matches_reference`` runs the Rust program itself when it
  is already built in the user's app cache (scripts/setup-apps.sh
  timely-pagerank) or when DDCLAB_TEST_TIMELY=1 asks for a build, and compares
  every node's rank.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from ddclab.apps import timely
from ddclab.errors import DdclabError

#: (nodes, edges, iterations, seed) -> checksum printed by timely-pagerank (any -w)
GOLDEN = {(1000, 8000, 10, 7): "15dd9708efa693ac"}


def test_splitmix_matches_the_published_sequence():
    # splitmix64 seeded with 0: first outputs of the reference C implementation.
    assert timely.splitmix(0, 0) == 0xE220A8397B1DCDAF
    assert timely.splitmix(0, 1) == 0x6E789E6AA1B965F4


def test_graph_is_deterministic_and_power_law():
    e = timely.generate_edges(5000, 40_000, 7)
    assert e == timely.generate_edges(5000, 40_000, 7)
    assert e != timely.generate_edges(5000, 40_000, 8)
    assert len(e) == 40_000 and all(0 <= s < 5000 and 0 <= d < 5000 for s, d in e)
    indeg = Counter(d for _, d in e)
    top = indeg.most_common(1)[0][1]
    assert top > 50 * 40_000 / 5000, "in-degree must be heavy-tailed"
    # The heavy nodes are spread over the id space, not packed at 0.
    hubs = [v for v, _ in indeg.most_common(20)]
    assert max(hubs) - min(hubs) > 2500
    a, b = timely.permutation(5000)
    assert sorted((a * i + b) % 5000 for i in range(5000)) == list(range(5000))
    with pytest.raises(DdclabError):
        timely.generate_edges(1, 10, 7)


def test_reference_on_hand_computed_graphs():
    one, base = timely.ONE, timely.BASE
    share = one * 85 // 100
    # A 3-cycle: every node passes 0.85 of its rank on, keeps the base.
    assert timely.reference_pagerank(3, [(0, 1), (1, 2), (2, 0)], 1) == [base + share] * 3
    # A star into node 0; node 0 has no out-edges (its rank is dropped).
    r = timely.reference_pagerank(4, [(1, 0), (2, 0), (3, 0)], 2)
    assert r[1:] == [base] * 3 and r[0] == base + 3 * (base * 85 // 100)
    # Split shares: node 0 sends to 1 and 2.
    assert timely.reference_pagerank(3, [(0, 1), (0, 2)], 1) == [base, base + share // 2, base + share // 2]


def test_reference_ranks_follow_in_degree():
    nodes, iters = 2000, 8
    e = timely.generate_edges(nodes, 16_000, 3)
    r = timely.reference_pagerank(nodes, e, iters)
    indeg = Counter(d for _, d in e)
    hub = indeg.most_common(1)[0][0]
    assert r.index(max(r)) == hub
    assert all(x >= timely.BASE for x in r)
    assert sum(r) <= nodes * timely.ONE  # rank only leaks (dangling nodes, truncation)


@pytest.mark.parametrize("params", list(GOLDEN))
def test_reference_reproduces_the_rust_programs_checksum(params):
    nodes, edges, iters, seed = params
    r = timely.reference_pagerank(nodes, timely.generate_edges(nodes, edges, seed), iters)
    assert timely.checksum(r) == GOLDEN[params]


def test_parse_output():
    out = "OK pagerank nodes=10 edges=20 iters=3 checksum=00000000deadbeef total=123 top=4:99,1:50 seconds=0.1\n"
    p = timely.parse_output(out)
    assert p["checksum"] == "00000000deadbeef" and p["top"] == [(4, 99), (1, 50)] and p["total"] == 123
    with pytest.raises(DdclabError, match="no result"):
        timely.parse_output("thread 'main' panicked")


def test_unavailable_without_cargo(monkeypatch):
    monkeypatch.setattr(timely, "_cargo", lambda: None)
    why = timely.PAGERANK.unavailable()
    assert "cargo" in why and "setup-apps" in why
    with pytest.raises(DdclabError, match="cargo not found"):
        timely.binary()


def _user_binary() -> Path | None:
    """The program as built in the user's (not the test's isolated) cache."""
    if os.environ.get("DDCLAB_TEST_TIMELY") == "1":
        return timely.binary()
    home = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    p = Path(home) / "ddclab" / "apps" / "bin" / timely.binary_path().name
    return p if p.is_file() else None


def test_rust_program_matches_reference():
    b = _user_binary()
    if b is None:
        pytest.skip("timely-pagerank not built (scripts/setup-apps.sh timely-pagerank, or DDCLAB_TEST_TIMELY=1)")
    nodes, edges, iters, seed = 1500, 12_000, 6, 11
    ref = timely.reference_pagerank(nodes, timely.generate_edges(nodes, edges, seed), iters)
    for workers in ("1", "3"):
        r = subprocess.run([str(b), str(nodes), str(edges), str(iters), str(seed), "--dump", "-w", workers],
                           capture_output=True, text=True, timeout=60, check=True)
        lines = r.stdout.splitlines()
        ranks = [int(ln.split()[1]) for ln in lines[:nodes]]
        assert [int(ln.split()[0]) for ln in lines[:nodes]] == list(range(nodes))
        assert ranks == ref
        assert timely.parse_output(r.stdout)["checksum"] == timely.checksum(ref)
    for params, want in GOLDEN.items():
        r = subprocess.run([str(b), *map(str, params), "-w", "2"], capture_output=True, text=True, timeout=60, check=True)
        assert timely.parse_output(r.stdout)["checksum"] == want
    for args in (["10", "x", "1", "1"], ["3", "10", "2", "1", "-w", "4"], ["10", "10", "1", "1", "--bogus"]):
        bad = subprocess.run([str(b), *args], capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1, (args, bad.stderr)
