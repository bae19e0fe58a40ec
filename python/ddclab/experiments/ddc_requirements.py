"""``ddclab reproduce ddc-requirements``: the application study of "Network
Requirements for Resource Disaggregation" (Gao et al., OSDI 2016, section 3),
with the suite of :mod:`ddclab.apps` under the remote-memory emulator.

Each point is (app, local memory %, injected latency, bandwidth); each is run
``reps`` times and its median is compared with the median of the runs at zero
injected delay with the same local memory (the study's reference). Runs go
ONE AT A TIME: they measure wall time, and on a 2-core machine two emulated
runs side by side would slow each other and the measurement with them.
Repetitions are interleaved (rep 1 of every point, then rep 2, ...) so slow
drift of the machine's load spreads over all points instead of biasing some.
Every finished run is cached under ``OUT/.cache``; a rerun resumes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .. import apps as registry
from .. import atomic
from ..apps.emulate import Measurement, RunTimedOut, run as run_app
from ..emu import fit as emufit
from ..emu import idle, paths
from ..emu import probe as emuprobe
from ..emu.runner import PAGE, Settings, pages_for_percent
from ..errors import DdclabError

THRESHOLD_PCT = 5.0
REF_LOCAL = 25  # the study's default local memory (% of the working set)


@dataclass(frozen=True)
class Scale:
    name: str
    apps: tuple
    latencies_us: tuple
    bandwidths_gbps: tuple
    locals_pct: tuple
    reps: int
    client_timeout_s: float
    #: Figure 2's grid at 25% local: "full" = every latency x every bandwidth;
    #: "cross" = every latency at 40 Gbps and every bandwidth at 5 us (Figures
    #: 3 and 4; 8 instead of 15 points), to fit small's time budget
    fig2: str = "full"
    #: repetitions of the three points that decide the classes (25% local at
    #: zero delay, 5 us / 40 Gbps, 3 us / 100 Gbps): at least `reps`
    class_reps: int = 0


_SMALL = ("kernel-rand", "kernel-hashjoin", "memcached-a", "memcached-b", "timely-pagerank")
_SPARK = ("spark-wordcount", "spark-sort", "spark-sql", "spark-als")
_ALL = _SMALL + ("redis",) + _SPARK
SCALES = {
    # For tests: seconds, the C kernels only. Its limit leaves room for a
    # Spark job at tiny size (--apps): 80 s at 25% local.
    "tiny": Scale("tiny", ("kernel-rand", "kernel-hashjoin"), (1, 3, 5), (40, 100), (25, 100), 1, 600),
    # Under 30 minutes on 2 cores: small data, median of 3, Figure 2 as a
    # cross (latency row at 40 Gbps, bandwidth column at 5 us): 21 points x 3
    # repetitions per app. A median of 2 is a mean, and one thrashing run
    # (Timely once took 41 s at a point whose other runs take 3.7 s) moved a
    # whole point; 3 became affordable when the emulator got faster (2 reps:
    # 12.2 minutes on 2026-11-30, against 19 the day before).
    # The class points get 9: their run-to-run noise (+-10-15% on 2 cores) is
    # as large as the degradations that decide a class.
    "small": Scale("small", _SMALL, (1, 3, 5, 10, 40), (10, 40, 100), (10, 25, 50, 75, 100), 3, 300, "cross", 9),
    "paper": Scale("paper", _ALL, (1, 3, 5, 10, 40), (10, 40, 100), (10, 25, 50, 75, 100), 5, 3600, "full", 9),
}
#: why an app of the suite is not in a scale's default set (shown in the report)
NOT_IN_SCALE = {
    "small": {n: "paper scale only: one Spark run (JVM start-up included) takes a minute or more on 2 cores, "
                 "so its 84 runs do not fit small's 30 minutes (add it with --apps)" for n in _SPARK}
    | {"redis": "paper scale only: at small size one emulated run takes 3-50 s (timed client) plus loading; its 63 runs "
                "took 30 minutes on 2026-11-30, small's whole budget (add it with --apps)"},
}
#: a program's run is killed (and reported failed) after this many times its
#: calibration run, within the scale's absolute limit: a program thrashing or
#: hung under the emulator must not stall the suite
TIMEOUT_FACTOR = 30
MIN_TIMEOUT_S = 120
#: the calibration run (no memory limit) gets at most this long: a program that
#: hangs under the emulator (the JVM, docs/ddc-requirements.md) fails in
#: bounded time instead of holding paper scale for an hour per app
CALIBRATION_TIMEOUT_S = 1200


def grid(scale: Scale) -> list[tuple[int, float, float]]:
    """(local %, latency us, bandwidth Gbps); (L, 0, 0) is the zero-delay
    reference of local memory L."""
    pts: list[tuple[int, float, float]] = []

    def add(p):
        if p not in pts:
            pts.append(p)

    for loc in scale.locals_pct:
        add((loc, 0, 0))
    for lat in scale.latencies_us:  # Figures 2-4
        for bw in scale.bandwidths_gbps:
            if scale.fig2 == "full" or bw == 40 or lat == 5:
                add((REF_LOCAL, lat, bw))
    for loc in scale.locals_pct:  # Figure 5 and Table 3
        add((loc, 5, 40))
        add((loc, 3, 100))
    return pts


def class_points() -> list[tuple[int, float, float]]:
    """The points the class split is decided on (see `classify`)."""
    return [(REF_LOCAL, 0, 0), (REF_LOCAL, 5, 40), (REF_LOCAL, 3, 100)]


#: what a cached run holds; bump when a measurement changes meaning (2: a
#: server's counters cover its timed phase only; injected_ms; 3: program
#: placement in the key)
RESULTS_FORMAT = 3


def program_cpus(app) -> str:
    """Where the suite lets an app's program run (see `App.single_threaded`)."""
    return "rest" if app.single_threaded and len(os.sched_getaffinity(0)) > 1 else "all"


def _key(*parts) -> str:
    from .. import __version__

    return hashlib.sha256(json.dumps([__version__, RESULTS_FORMAT, _shim_digest(), *parts], sort_keys=True).encode()).hexdigest()[:32]


@functools.cache
def _shim_digest() -> str:
    """The emulator build's identity: a rebuilt shim (another eviction policy,
    another fault path) measures differently, so its runs are new runs."""
    return hashlib.sha256(paths.shim().read_bytes()).hexdigest()[:16]


def _cached(cache: Path, key: str, compute: Callable[[], dict], usable: Callable[[dict], bool] = lambda res: True) -> dict:
    """The stored result of `key` if there is one and it is `usable`, else
    `compute()`'s, stored."""
    f = cache / f"{key}.json"
    if f.is_file():
        res = json.loads(f.read_text())
        if usable(res):
            return res
    res = compute()
    atomic.write_text(f, json.dumps(res))
    return res


def _cached_run(cache: Path, key: str, limit_s: float, measure: Callable[[], dict]) -> dict:
    """A run, cached like `_cached`, except that a run killed at its time limit
    is remembered too (with the limit), so that rerunning a finished
    reproduction (to re-render it, or after adding an app) does not wait out
    every limit again. It is tried again only under a longer limit. Other
    failures are not cached: a rerun tries again."""
    def attempt() -> dict:
        try:
            return measure()
        except RunTimedOut as exc:
            return {"timed_out": str(exc), "limit_s": limit_s}

    res = _cached(cache, key, attempt, usable=lambda r: r.get("limit_s", limit_s) >= limit_s)
    if "timed_out" in res:
        raise RunTimedOut(res["timed_out"])
    return res


def app_argv(app, scale: str) -> list:
    """Everything an app's run executes, for cache keys: a change of sizes,
    binary (its name carries the source hash), data or options is a new key."""
    if app.server is None:
        return list(app.command(scale))
    srv = app.server(scale)
    return [srv.argv(0), srv.prepare(0), srv.client(0)]


def run_timeout(scale: Scale, calibration_s: float, kind: str = "program") -> float:
    """Programs: a multiple of their calibration time. Servers keep the scale's
    limit per client command: their calibration time is the timed client's
    only, not the (longer, un-timed) loading before it."""
    if kind == "server":
        return scale.client_timeout_s
    return min(scale.client_timeout_s, max(MIN_TIMEOUT_S, TIMEOUT_FACTOR * calibration_s))


def parse_apps(spec: str | None, scale: Scale) -> list[str]:
    if not spec:
        return list(scale.apps)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise DdclabError("--apps: empty list")
    for n in names:
        registry.get(n)
    return names


def check_reps(reps: int | None, class_reps: int | None) -> None:
    for opt, v in (("--reps", reps), ("--class-reps", class_reps)):
        if v is not None and v < 1:
            raise DdclabError(f"{opt} {v}: must be at least 1")


def run(out_dir: Path, scale_name: str, *, apps: str | None = None, reps: int | None = None, class_reps: int | None = None,
        idle_poll: str = "auto", progress: Callable[[int, int], None] | None = None, log: Callable[[str], None] = print) -> Path:
    scale = SCALES[scale_name]
    check_reps(reps, class_reps)
    nreps = reps or scale.reps
    # Given --reps and not --class-reps, the class points get no fewer.
    ncls = class_reps or (max(nreps, scale.class_reps) if reps is None else nreps)
    with idle.Holder(idle_poll) as ip:
        log(ip.describe())
        return _run(out_dir, scale, nreps, max(ncls, nreps), apps, ip, progress, log)


def machine_probes() -> pd.DataFrame:
    """The fault path's cost on this machine now, at zero injected delay: the
    floor of the mechanism (a bare userfaultfd round trip, no emulator) and
    the emulator's end to end (memu-faultcost). Measured, not cached: it is a
    property of the machine and its load at the time of the report."""
    rows = []
    for what, measure in (("userfaultfd round trip (floor, no emulator)", lambda: emuprobe.uffd_floor(2000)),
                          ("emulator, end to end (memu-faultcost)", lambda: emuprobe.fault_cost(Settings(), pages=4096, samples=2000))):
        try:
            d = measure()
            rows.append({"what": what, "median_us": d.median_us, "p99_us": d.p99_us, "min_us": d.min_us, "samples": d.samples})
        except DdclabError as exc:
            rows.append({"what": what, "error": str(exc)})
    return pd.DataFrame(rows)


def _run(out_dir: Path, scale: Scale, nreps: int, ncls: int, apps: str | None, ip: idle.IdlePoll,
         progress: Callable[[int, int], None] | None, log: Callable[[str], None]) -> Path:
    names = parse_apps(apps, scale)
    cache = out_dir / ".cache"
    t0 = time.monotonic()
    skipped: dict[str, str] = {}
    peaks: dict[str, int] = {}
    argvs: dict[str, list] = {}
    placements: dict[str, str] = {}  # app -> its program CPUs (see program_cpus)
    timeouts: dict[str, float] = {}
    for n in names:
        app = registry.get(n)
        why = app.unavailable()
        if why:
            skipped[n] = why
            continue
        try:
            # The key has the full argv: new sizes or a rebuilt binary recalibrate.
            argvs[n] = app_argv(app, scale.name)
            placements[n] = cpus = program_cpus(app)
            cal = _cached(cache, _key("calibration", n, scale.name, argvs[n], cpus),
                          lambda: run_app(app, scale.name, Settings(local_pages=None, program_cpus=cpus),
                                          min(scale.client_timeout_s, CALIBRATION_TIMEOUT_S)).to_dict())
            peaks[n] = int(cal["peak_pages"])
            timeouts[n] = run_timeout(scale, float(cal["seconds"]), app.kind)
        except DdclabError as exc:
            skipped[n] = f"calibration run failed: {exc}"
    pts = grid(scale)
    cls_pts = [p for p in class_points() if p in pts]
    total = len(peaks) * (len(pts) * nreps + len(cls_pts) * (ncls - nreps))
    done = 0
    rows = []
    failed: dict[str, str] = {}
    hung_at: dict[str, float] = {}  # app -> largest local % at which a run timed out
    for rep in range(ncls):
        for n, peak in peaks.items():
            app = registry.get(n)
            for loc, lat, bw in (pts if rep < nreps else cls_pts):
                row = {"app": n, "local_pct": loc, "latency_us": lat, "bandwidth_gbps": bw, "rep": rep}
                if n in hung_at and loc <= hung_at[n]:
                    # As little or less local memory than a run that timed out:
                    # it would time out too; not run (and not cached).
                    row["error"] = f"not run: a run at {hung_at[n]:g}% local timed out"
                    rows.append(row)
                    done += 1
                    if progress:
                        progress(done, total)
                    continue
                s = Settings(local_pages=pages_for_percent(peak, loc), latency_ns=int(lat * 1000), bandwidth_bps=int(bw * 1e9),
                             program_cpus=placements[n])
                key = _key("run", n, scale.name, argvs[n], loc, lat, bw, rep, ip.active, s.program_cpus)
                try:
                    m = _cached_run(cache, key, timeouts[n], lambda: run_app(app, scale.name, s, timeouts[n]).to_dict())
                    row.update(m)
                except DdclabError as exc:
                    # Not plotted: no number is made up.
                    row["error"] = str(exc)
                    failed.setdefault(n, str(exc))
                    if isinstance(exc, RunTimedOut):
                        hung_at[n] = max(hung_at.get(n, 0), loc)
                    log(f"{n} local {loc}% {lat}us {bw}Gbps rep {rep}: {exc}")
                rows.append(row)
                done += 1
                if progress:
                    progress(done, total)
    runs = pd.DataFrame(rows)
    if "error" not in runs.columns:
        runs["error"] = None
    probes = machine_probes()
    return _report(out_dir, scale, nreps, names, runs, peaks, skipped, failed, time.monotonic() - t0, ip, probes, ncls)


# ------------------------------------------------------------------ analysis

def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Median per point, and degradation vs the zero-delay median at the same local memory."""
    ok = runs[runs["error"].isna()] if "error" in runs else runs
    if ok.empty:
        return pd.DataFrame(columns=["app", "local_pct", "latency_us", "bandwidth_gbps", "median_s", "reps", "degradation_pct",
                                     "degradation_lo_pct", "degradation_hi_pct"])
    g = ok.groupby(["app", "local_pct", "latency_us", "bandwidth_gbps"], sort=False)
    agg = g.agg(median_s=("seconds", "median"), reps=("seconds", "size"),
                remote_faults=("remote_faults", "median"), pages_fetched=("pages_fetched", "median"),
                pages_written_back=("pages_written_back", "median"), overhead_median_us=("overhead_median_us", "median")).reset_index()
    if "ops_per_s" in ok:
        agg = agg.merge(g["ops_per_s"].median().rename("median_ops_per_s").reset_index(), on=["app", "local_pct", "latency_us", "bandwidth_gbps"])
    base = agg[(agg["latency_us"] == 0) & (agg["bandwidth_gbps"] == 0)][["app", "local_pct", "median_s"]].rename(columns={"median_s": "baseline_s"})
    agg = agg.merge(base, on=["app", "local_pct"], how="left")
    agg["degradation_pct"] = (agg["median_s"] / agg["baseline_s"] - 1.0) * 100.0
    if "injected_ms" in ok:
        # What the injected delay alone would add if one thread waited out every
        # remote read in turn: a yardstick for the measured degradation.
        inj = g["injected_ms"].median().rename("injected_ms").reset_index()
        agg = agg.merge(inj, on=["app", "local_pct", "latency_us", "bandwidth_gbps"])
        agg["injected_pct"] = agg["injected_ms"] / 1000.0 / agg["baseline_s"] * 100.0
    # The run-to-run noise around it: a bootstrap interval.
    times = {k: v.to_numpy(dtype=float) for k, v in g["seconds"]}
    bounds = [degradation_interval(times[(a, loc, lat, bw)], times.get((a, loc, 0, 0)))
              for a, loc, lat, bw in zip(agg["app"], agg["local_pct"], agg["latency_us"], agg["bandwidth_gbps"])]
    agg["degradation_lo_pct"] = [b[0] for b in bounds]
    agg["degradation_hi_pct"] = [b[1] for b in bounds]
    # Remote-memory traffic actually moved (reads + write-backs), per second of run.
    agg["remote_gbps"] = (agg["pages_fetched"] + agg["pages_written_back"]) * PAGE * 8 / agg["median_s"] / 1e9
    return agg


def degradation_interval(runs: np.ndarray, base: np.ndarray | None, resamples: int = 2000) -> tuple[float, float]:
    """95% bootstrap interval of the degradation median(runs) / median(base) - 1,
    in %: both samples resampled with replacement, a fixed seed (the same runs
    give the same interval). With three runs a side it is close to the range
    from the fastest run over the slowest reference to the slowest over the
    fastest; more runs narrow it. NaNs without a reference."""
    if base is None or len(base) == 0 or len(runs) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(0)
    r = np.median(runs[rng.integers(0, len(runs), (resamples, len(runs)))], axis=1)
    b = np.median(base[rng.integers(0, len(base), (resamples, len(base)))], axis=1)
    lo, hi = np.percentile((r / b - 1.0) * 100.0, [2.5, 97.5])
    return float(lo), float(hi)


def _point(summary: pd.DataFrame, app: str, loc: float, lat: float, bw: float) -> pd.Series | None:
    r = summary[(summary["app"] == app) & (summary["local_pct"] == loc) & (summary["latency_us"] == lat) & (summary["bandwidth_gbps"] == bw)]
    return None if r.empty else r.iloc[0]


def deg_at(summary: pd.DataFrame, app: str, loc: float, lat: float, bw: float) -> float | None:
    p = _point(summary, app, loc, lat, bw)
    return None if p is None or pd.isna(p["degradation_pct"]) else float(p["degradation_pct"])


def _all_local(p: pd.Series) -> bool:
    return p["remote_faults"] == 0 and p["pages_fetched"] == 0 and p["pages_written_back"] == 0


def deg_range_at(summary: pd.DataFrame, app: str, loc: float, lat: float, bw: float) -> tuple[float, float] | None:
    """The point's bootstrap interval (see `summarize`), or None where there
    is no noise to measure: a single run at the point or at its zero delay."""
    p, ref = _point(summary, app, loc, lat, bw), _point(summary, app, loc, 0, 0)
    if p is None or ref is None or min(p["reps"], ref["reps"]) < 2 or pd.isna(p["degradation_lo_pct"]):
        return None
    return float(p["degradation_lo_pct"]), float(p["degradation_hi_pct"])


def local_needed(summary: pd.DataFrame, app: str, lat: float, bw: float, locals_pct) -> tuple[float | None, float | None]:
    """(smallest measured local % under the threshold, linearly interpolated
    crossing between the last measured point above it and that one).

    A point whose runs moved no page to or from remote memory (100% local is
    no limit) meets the threshold by construction: the network cannot have
    slowed it, so its measured difference from the zero-delay run is run-to-run
    noise (Spark ALS measured +13% there), which must not hide the crossing."""
    pts = []
    for loc in sorted(locals_pct):
        p = _point(summary, app, loc, lat, bw)
        if p is not None and not pd.isna(p["degradation_pct"]):
            pts.append((loc, 0.0 if _all_local(p) else float(p["degradation_pct"])))
    for i, (x, d) in enumerate(pts):
        if d < THRESHOLD_PCT:
            # Interpolate only if every larger local memory also meets it (else
            # the crossing is noise, and the measured point is what we have).
            if any(d2 >= THRESHOLD_PCT for _, d2 in pts[i:]):
                continue
            if i == 0:
                return x, x
            x0, d0 = pts[i - 1]
            return x, x0 + (d0 - THRESHOLD_PCT) / (d0 - d) * (x - x0)
    return None, None


def latency_fit(summary: pd.DataFrame, app: str, bw: float) -> dict | None:
    r = summary[(summary["app"] == app) & (summary["local_pct"] == REF_LOCAL) & (summary["bandwidth_gbps"] == bw) & (summary["latency_us"] > 0)]
    if r["latency_us"].nunique() < 2:
        return None
    f = emufit.fit(r["latency_us"].tolist(), r["median_s"].tolist())
    base = summary[(summary["app"] == app) & (summary["local_pct"] == REF_LOCAL) & (summary["latency_us"] == 0)]["median_s"]
    out = {"app": app, "bandwidth_gbps": bw, "intercept_s": f.intercept_s, "slope_ms_per_us": f.slope_s_per_us * 1000, "r2": f.r2}
    out["baseline_s"] = float(base.iloc[0]) if len(base) else None
    # Latency at which the fitted runtime is 5% above the zero-delay run. None
    # where the fit has no upward trend, or where it is already 5% above at
    # zero latency (the transfer time over this bandwidth alone costs more).
    out["latency_for_5pct_us"] = None
    out["over_5pct_at_zero_latency"] = False
    if out["baseline_s"] and f.slope_s_per_us > 0:
        lat5 = ((1 + THRESHOLD_PCT / 100) * out["baseline_s"] - f.intercept_s) / f.slope_s_per_us
        if lat5 > 0:
            out["latency_for_5pct_us"] = lat5
        else:
            out["over_5pct_at_zero_latency"] = True
    return out


def classify(d5_40: float | None, d3_100: float | None) -> str:
    """The study's classes: A meets < 5% at 5 us (40 Gbps), B only at 3 us (100 Gbps)."""
    if d5_40 is None and d3_100 is None:
        return "not measured"
    if d5_40 is not None and d5_40 < THRESHOLD_PCT:
        return "A"
    if d3_100 is not None and d3_100 < THRESHOLD_PCT:
        return "B"
    return "neither (needs < 3 us or more local memory)"


def _fmt_range(r: tuple[float, float] | None) -> str:
    return "" if r is None else f"{r[0]:+.1f}..{r[1]:+.1f}"


def class_firmness(cls: str, r5_40: tuple[float, float] | None, r3_100: tuple[float, float] | None) -> str:
    """Whether run-to-run noise could change the class: "firm" when the
    interval of `degradation_interval` lies on the class's side of 5% at each
    point that decides it, else what is in doubt."""
    if cls == "not measured":
        return ""
    # The deciding points, and on which side of the threshold each must lie.
    need = {"A": [("5 us / 40 Gbps", r5_40, "below")],
            "B": [("5 us / 40 Gbps", r5_40, "above"), ("3 us / 100 Gbps", r3_100, "below")]}.get(
        cls, [("5 us / 40 Gbps", r5_40, "above"), ("3 us / 100 Gbps", r3_100, "above")])
    doubts = []
    for label, rng, side in need:
        if rng is None:
            doubts.append(f"no run-to-run range at {label} (one repetition)")
        elif (side == "below" and rng[1] >= THRESHOLD_PCT) or (side == "above" and rng[0] < THRESHOLD_PCT):
            doubts.append(f"{THRESHOLD_PCT:g}% lies within {_fmt_range(rng)}% at {label}")
    return "firm" if not doubts else "not firm: " + "; ".join(doubts)


# -------------------------------------------------------------------- report

def _report(out_dir: Path, scale: Scale, nreps: int, names: list[str], runs: pd.DataFrame, peaks: dict, skipped: dict,
            failed: dict, wall_s: float, ip: idle.IdlePoll | None = None, probes: pd.DataFrame | None = None,
            ncls: int | None = None) -> Path:
    from ..budget import compute as budget_compute
    from ..report import HtmlReport, bar_chart, line_chart, write_csv

    plots = out_dir / "plots"
    summary = summarize(runs)
    measured = [n for n in names if n in peaks and not summary[summary["app"] == n].empty]
    write_csv(runs, out_dir / "points.csv")
    write_csv(summary, out_dir / "summary.csv")
    page = HtmlReport("Network requirements for resource disaggregation: application study, reproduced",
                      f"scale {scale.name}; median of {nreps} repetition(s) per point"
                      + (f" ({ncls} at the three points that decide the classes)" if ncls and ncls > nreps else "")
                      + f"; apps: {', '.join(measured) or 'none'}")
    page.paragraph(
        "Each application runs under ddclab's user-space remote-memory emulator (docs/emulator.md) with part of its memory local "
        "and the rest behind an injected latency and bandwidth. Degradation = median run time / median run time at zero injected "
        "delay with the same local memory - 1 (the study's reference). For servers the time is the client's time for a fixed "
        "number of operations (1/throughput); only the server is emulated. Local memory is a percentage of the app's peak "
        "anonymous resident set, measured by a calibration run with no limit. Runs are executed one at a time (they measure "
        "wall time; parallel runs on this 2-core machine would interfere), repetitions interleaved.")
    if ip is not None:
        state = ip.describe()
        page.note(f"{state[0].upper()}{state[1:]} during every run, references included. "
                  + ("A halted CPU's wake-up is an interrupt through the hypervisor on a VM, and each remote fault has two; "
                     "polling keeps the emulator's own cost per fault near its work (docs/emulator.md, 'Overhead')."
                     if ip.active else "On a VM each remote fault then pays two wake-ups of halted CPUs (tens of us): "
                     "read small degradations against the overhead below."), "Idle CPUs")
    confined = [n for n in measured if program_cpus(registry.get(n)) == "rest"]
    if confined:
        page.note(f"{', '.join(confined)}: single-threaded, run on every CPU but the emulator's service CPU "
                  "(--program-cpus rest); the other apps may use every CPU.", "Placement")
    for n, why in skipped.items():
        page.note(f"{n}: not run: {why}", "Skipped application")
    for n, why in NOT_IN_SCALE.get(scale.name, {}).items():
        if n not in names:
            page.note(f"{n}: not in this scale: {why}", "Not in this scale")
    for n, why in failed.items():
        page.note(f"{n}: some runs failed and are left out of every figure: {why}", "Failed runs")
    if probes is not None and not probes.empty:
        write_csv(probes, out_dir / "overhead.csv")
        parts = [f"{r['what']}: not measured ({r['error']})" if isinstance(r.get("error"), str)
                 else f"{r['what']}: median {r['median_us']:.1f} us, p99 {r['p99_us']:.1f} us, min {r['min_us']:.1f} us"
                 for r in probes.to_dict("records")]
        page.note("A remote fault's cost at zero injected delay on this machine, measured for this report: " + "; ".join(parts)
                  + ". The study's kernel swap path had 2.46 us of software overhead on bare metal (overhead.csv).", "Fault path")
    if not summary.empty:
        ov = summary["overhead_median_us"].dropna()
        if len(ov):
            page.note(f"The emulator's own cost per remote fault in the applications (handler share, median over points) is "
                      f"{ov.median():.1f} us (range {ov.min():.1f}-{ov.max():.1f}), larger than the 1-5 us being studied: on two "
                      "cores the handler shares a CPU with the evictor, whose moves interrupt the program's CPU. It is present in "
                      "the zero-delay reference too, so degradations measure the injected delay, but on top of a slower fault path "
                      "than the study's 2.46 us kernel swap path: read small degradations against it.", "Emulator overhead")
    if not measured:
        page.paragraph("No application produced measurements.")
        return page.write(out_dir / "report.html")
    ref = summary[summary["local_pct"] == REF_LOCAL]

    RANGE = ("degradation_lo_pct", "degradation_hi_pct")
    range_caption = ("Bars: 95% bootstrap interval of the degradation (run-to-run noise of the point and of its zero-delay "
                     "reference)" + (" -- none with one repetition." if nreps < 2 else
                                     "; the axis follows the medians, so a longer bar is cut at its edge (its ends are in the CSV)."))

    def lines(df, x, hue, y, name, title, xlabel, ylabel, log_x=False):
        if df.empty:
            return
        p = line_chart(df, x, hue, y, name=name, title=title, xlabel=xlabel, ylabel=ylabel, err=RANGE, caption=range_caption,
                       log_x=log_x)
        # One thrashing run's interval (hundreds of %) would flatten every line.
        v = df[y].dropna()
        if len(v):
            pad = max(10.0, 0.5 * (v.max() - v.min()))
            p.figure.axes[0].set_ylim(v.min() - pad, v.max() + pad)
        p.save(plots)
        page.plot(p, files_in="plots/")

    page.heading("Figure 2: degradation over latency and bandwidth (25% local)")
    for n in measured:
        d = ref[(ref["app"] == n) & (ref["latency_us"] > 0)].assign(bandwidth=lambda t: t["bandwidth_gbps"].map(lambda b: f"{b:g} Gbps"))
        lines(d, "latency_us", "bandwidth", "degradation_pct", f"fig2_{n}", f"{n}: degradation, 25% local", "injected latency (us)",
              "degradation (%)", log_x=True)
    page.heading("Figure 3: bandwidth varied at 5 us")
    lines(ref[ref["latency_us"] == 5], "bandwidth_gbps", "app", "degradation_pct", "fig3_bandwidth", "Degradation vs bandwidth (5 us, 25% local)",
          "bandwidth (Gbps)", "degradation (%)", log_x=True)
    page.heading("Figure 4: latency varied at 40 Gbps")
    lines(ref[(ref["bandwidth_gbps"] == 40) & (ref["latency_us"] > 0)], "latency_us", "app", "degradation_pct", "fig4_latency",
          "Degradation vs latency (40 Gbps, 25% local)", "injected latency (us)", "degradation (%)", log_x=True)
    if "injected_pct" in ref:
        inj = ref[ref["latency_us"] > 0][["app", "latency_us", "bandwidth_gbps", "degradation_pct", "degradation_lo_pct",
                                          "degradation_hi_pct", "injected_pct"]]
        if not inj.empty:
            page.table(inj.round(1), "Measured degradation (with its interval) beside the injected delay: the sum of the network "
                                     "delays the emulator added to remote reads at the point, as % of the zero-delay runtime. A "
                                     "single thread that waited out every remote read in turn would slow down by about that much; "
                                     "less means reads overlapped other work (more threads, a server's other requests), more means "
                                     "the delay had knock-on costs (e.g. faults waiting for room while write-backs hold the link).")
    page.heading("Figure 5: local memory varied (5 us, 40 Gbps)")
    lines(summary[(summary["latency_us"] == 5) & (summary["bandwidth_gbps"] == 40)], "local_pct", "app", "degradation_pct", "fig5_local",
          "Degradation vs local memory (5 us, 40 Gbps)", "local memory (% of peak resident set)", "degradation (%)")
    page.heading("Table 3: local memory for < 5% degradation")
    t3 = []
    for n in measured:
        row = {"app": n}
        for lat, bw in ((5, 40), (3, 100)):
            meas, interp = local_needed(summary, n, lat, bw, scale.locals_pct)
            row[f"measured_local_pct_{lat}us_{bw}g"] = meas
            row[f"interpolated_local_pct_{lat}us_{bw}g"] = None if interp is None else round(interp, 1)
        t3.append(row)
    t3 = pd.DataFrame(t3)
    write_csv(t3, out_dir / "table3.csv")
    page.table(t3, "Smallest measured local memory (%) whose degradation is < 5%, and the linear interpolation between it and "
                   "the next smaller measured one (empty: no measured local memory meets it; a local memory whose runs moved no page remotely, "
                   "such as 100%, meets it by construction). Measured set: "
                   + ", ".join(f"{x}%" for x in scale.locals_pct))
    page.heading("Figure 6: degradation against remote-memory bandwidth")
    f6 = ref[(ref["latency_us"] == 5) & (ref["bandwidth_gbps"] == 40)][["app", "degradation_pct", "remote_gbps"]].copy()
    if not f6.empty:
        write_csv(f6, plots / "fig6_remote_bandwidth.csv")
        page.plot(bar_chart(f6, "app", None, "remote_gbps", name="fig6_remote_gbps", title="Remote-memory traffic (5 us, 40 Gbps, 25% local)",
                            ylabel="Gbps (pages in + written back)", out_dir=plots), files_in="plots/")
        page.table(f6, "Degradation and the remote-memory traffic each app generated (fetched + written-back pages x 4 KiB / run time)")
    page.note("Total memory bandwidth (local DRAM traffic) is not measured: this VM exposes no hardware performance counters "
              "(perf's uncore/IMC events are unavailable), so the study's plot against total memory bandwidth is not reproduced.",
              "Not measurable here")
    page.heading("Runtime against injected latency: linear fit")
    fits = [f for n in measured for bw in scale.bandwidths_gbps if (f := latency_fit(summary, n, bw))]
    fits_df = pd.DataFrame(fits)
    if not fits_df.empty:
        write_csv(fits_df, out_dir / "fits.csv")
        page.table(fits_df, "runtime = intercept + slope x latency, least squares over the median of each latency (25% local, latencies > 0); "
                            "latency_for_5pct_us solves intercept + slope x L = 1.05 x the zero-delay runtime; over_5pct_at_zero_latency: the fit "
                            "is more than 5% above the zero-delay run even at zero latency (the transfer time at this bandwidth "
                            "alone costs more), so no latency meets 5%")
    page.heading("Class A / class B")
    budget = budget_compute()
    cls_rows = []
    for n in measured:
        d1, d2 = deg_at(summary, n, REF_LOCAL, 5, 40), deg_at(summary, n, REF_LOCAL, 3, 100)
        r1, r2 = deg_range_at(summary, n, REF_LOCAL, 5, 40), deg_range_at(summary, n, REF_LOCAL, 3, 100)
        c = classify(d1, d2)
        cls_rows.append({"app": n, "degradation_pct_5us_40g": d1, "range_5us_40g": _fmt_range(r1),
                         "degradation_pct_3us_100g": d2, "range_3us_100g": _fmt_range(r2), "class": c,
                         "firmness": class_firmness(c, r1, r2)})
    cls = pd.DataFrame(cls_rows)
    write_csv(cls, out_dir / "classes.csv")
    page.table(cls, "Class A: < 5% at 5 us / 40 Gbps; class B: < 5% only at 3 us / 100 Gbps (25% local memory), from the "
                    "medians. Ranges: 95% bootstrap intervals of the degradation (runs at the point and at zero delay resampled); "
                    "a class is firm when the whole interval at each deciding point lies on its side of 5%.")
    tech = pd.DataFrame([{"technology and path": c.label, "round trip (us)": round(c.total_us, 2),
                          "serves class A (<= 5 us)": c.meets("A"), "serves class B (<= 3 us)": c.meets("B")} for c in budget.columns])
    page.table(tech, "ddclab budget (the study's Table 4): which technologies meet each class's latency target")
    page.heading("Every run")
    page.table(runs, "Every run (also points.csv); summary.csv has the medians and degradations")
    page.paragraph(f"Wall time of this reproduction: {wall_s:.0f} s (cached runs are not repeated).")
    return page.write(out_dir / "report.html")
