"""Sweeps: run many simulation points, in parallel, with a cache.

A *point* is a complete scenario (a dict) plus labels that say where it sits
in the experiment (protocol, load, ...). :func:`run_points` runs the points
that are not cached yet, on a Dask cluster: a ``LocalCluster`` of one process
per worker by default, or an existing scheduler given by address (a real
cluster). Each finished point is stored at once under its content hash (the
scenario's canonical TOML, the extraction it asked for, the ddclab
version and a hash of the simulator build), so an interrupted sweep resumes
where it stopped and a repeated one
costs nothing.

Points with a single worker run in this process, without Dask: the results
are the same (every point is deterministic), only slower.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import atomic
from .errors import DdclabError
from .jsonsafe import json_safe
from .tomlwrite import dumps


@dataclass
class Point:
    """One run of a sweep."""

    scenario: dict[str, Any]
    labels: dict[str, Any] = field(default_factory=dict)
    #: Extra outputs to keep besides the summary: "pending" (the pending-bytes
    #: series, reduced to at most 400 points) and/or "tenants" (per-tenant
    #: throughput over time).
    keep: tuple[str, ...] = ()

    def text(self) -> str:
        return dumps(self.scenario)

    def key(self) -> str:
        h = hashlib.sha256()
        h.update(self.text().encode())
        h.update(json.dumps(sorted(self.keep)).encode())
        h.update(_code_fingerprint().encode())
        return h.hexdigest()[:32]


@functools.cache
def _code_fingerprint() -> str:
    """The version plus a hash of the simulator extension and of this module
    (which reduces results), so a rebuilt engine never reuses cached points."""
    from . import __version__, _core

    h = hashlib.sha256(__version__.encode())
    for f in (getattr(_core, "__file__", None), __file__):
        if f and os.path.isfile(f):
            h.update(Path(f).read_bytes())
    return h.hexdigest()


def _reduce_series(t: np.ndarray, v: np.ndarray, n: int = 400) -> tuple[list, list]:
    """At most n points: the maximum of each of n equal time buckets (peaks
    matter for stability)."""
    if len(t) <= n:
        return t.tolist(), v.tolist()
    edges = np.linspace(0, len(t), n + 1).astype(int)
    tt = [float(t[a]) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    vv = [float(v[a:b].max()) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    return tt, vv


def tenant_throughput(tenants, flows, bins: int = 50, warmup: float = 0.2) -> dict[str, list]:
    """Per-tenant throughput over time (Gbps), from the simulator's samples of
    the payload bytes delivered to each tenant's destinations (``Result.tenants``),
    so flows that have not finished count for what they have delivered.

    The window is the arrival period (first to last flow arrival), while every
    tenant is offering load, without its first ``warmup`` fraction (while
    backlogs build up); the drain after it says nothing about sharing.
    Samples are regrouped into at most ``bins`` spans of that window."""
    t = tenants
    if len(t) == 0 or len(flows) == 0:
        return {"time_us": [], "tenant": [], "gbps": []}
    t0, t1 = float(flows["start_us"].min()), float(flows["start_us"].max())
    t0 += warmup * (t1 - t0)
    times = np.unique(t["time_us"].to_numpy())
    times = times[(times >= t0) & (times <= t1)]
    if len(times) < 2:
        return {"time_us": [], "tenant": [], "gbps": []}
    # Bin edges on sample times, so each span's bytes are exact differences.
    idx = np.unique(np.linspace(0, len(times) - 1, min(bins, len(times) - 1) + 1).round().astype(int))
    edges = times[idx]
    out_t, out_ten, out_g = [], [], []
    for tenant, part in t.groupby("tenant", sort=True):
        cum = part.set_index("time_us")["delivered_bytes"].astype(float)
        at = cum.reindex(edges).to_numpy()
        for a, b, ba, bb in zip(edges[:-1], edges[1:], at[:-1], at[1:]):
            out_t.append((a + b) / 2)
            out_ten.append(int(tenant))
            out_g.append((bb - ba) * 8 / (b - a) / 1e3)  # bits/us -> Gbps
    return {"time_us": out_t, "tenant": out_ten, "gbps": out_g}


def run_point(text: str, keep: Sequence[str]) -> dict[str, Any]:
    """Run one scenario and return what a sweep keeps of it (a plain dict, so
    it travels between processes and into the cache as JSON)."""
    from .simulation import simulate

    r = simulate(text)
    out: dict[str, Any] = {"summary": r.summary, "warnings": r.warnings, "wall_s": r.run.get("wall_s")}
    if "pending" in keep:
        t, v = _reduce_series(r.pending["time_us"].to_numpy(), r.pending["pending_bytes"].to_numpy())
        out["pending"] = {"time_us": t, "pending_bytes": v}
    if "tenants" in keep:
        out["tenants"] = tenant_throughput(r.tenants, r.flows)
    if "flows" in keep:
        out["flows"] = {c: r.flows[c].tolist() for c in ["size_bytes", "slowdown", "completed"]}
    return out


class Cache:
    """Finished points, one JSON file each, named by the point's key."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)

    def path(self, p: Point) -> Path:
        return self.dir / f"{p.key()}.json"

    def get(self, p: Point) -> dict | None:
        f = self.path(p)
        if not f.exists():
            return None
        try:
            return json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # a damaged entry is recomputed

    def put(self, p: Point, result: dict) -> None:
        atomic.write_text(self.path(p), json.dumps(json_safe(result)))


def run_points(
    points: Sequence[Point],
    cache_dir: str | os.PathLike,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Run every point (skipping cached ones) and return their results in the
    order given. ``scheduler`` is a Dask scheduler address; otherwise a local
    cluster of ``workers`` processes (default: the number of cores)."""
    cache = Cache(cache_dir)
    results: list[dict | None] = [cache.get(p) for p in points]
    todo = [i for i, r in enumerate(results) if r is None]
    done = len(points) - len(todo)
    if progress:
        progress(done, len(points))
    if not todo:
        return results  # type: ignore[return-value]
    workers = workers or os.cpu_count() or 1
    if scheduler is None and (workers <= 1 or len(todo) == 1):
        for i in todo:
            results[i] = _finish(cache, points[i], run_point(points[i].text(), points[i].keep))
            done += 1
            if progress:
                progress(done, len(points))
        return results  # type: ignore[return-value]

    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="10s")
            except OSError as exc:
                raise DdclabError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        else:
            cluster = LocalCluster(
                n_workers=min(workers, len(todo)),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=50,
            )
            client = Client(cluster)
        with client:
            # Longest points first keeps the workers busy to the end.
            futures = {
                client.submit(run_point, points[i].text(), points[i].keep, key=f"ddclab-{points[i].key()}", pure=False): i
                for i in todo
            }
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    res = fut.result()
                except DdclabError:
                    raise
                except Exception as exc:  # a worker died or the point failed
                    raise DdclabError(f"sweep point {points[i].labels}: {exc}") from None
                results[i] = _finish(cache, points[i], res)
                done += 1
                if progress:
                    progress(done, len(points))
    finally:
        if cluster is not None:
            cluster.close()
    return results  # type: ignore[return-value]


def _finish(cache: Cache, p: Point, res: dict) -> dict:
    cache.put(p, res)
    return json.loads(json.dumps(json_safe(res)))


def set_key(scenario: dict, dotted: str, value: Any) -> dict:
    """A copy of ``scenario`` with ``dotted.key`` set to ``value``."""
    import copy

    out = copy.deepcopy(scenario)
    parts = dotted.split(".")
    cur = out
    for p in parts[:-1]:
        nxt = cur.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise DdclabError(f"sweep key {dotted}: {p} is not a table")
        cur = nxt
    cur[parts[-1]] = value
    return out


def grid(base: dict, axes: Mapping[str, Iterable[Any]]) -> list[Point]:
    """The cartesian product of ``axes`` (dotted key -> values) over ``base``."""
    import itertools

    keys = list(axes)
    points = []
    for values in itertools.product(*(list(axes[k]) for k in keys)):
        sc = base
        for k, v in zip(keys, values):
            sc = set_key(sc, k, v)
        points.append(Point(sc, dict(zip(keys, values))))
    return points
