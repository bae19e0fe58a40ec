"""Figures of one simulation result, from plain pandas objects.

Inputs are the simulator's outputs as written to disk:

* ``flows``: one row per flow with at least ``size_bytes``, ``fct_us``,
  ``slowdown`` and ``completed`` (see docs/report.md for the full column list);
* ``pending``: a time series with ``time_us`` and ``pending_bytes``;
* ``summary``: the summary dict (only its ``drops`` mapping is plotted here).

Slowdown is FCT / OPT, where OPT is the flow's completion time alone in the
network; it is only defined for flows that completed, so figures of slowdown and
FCT use completed flows and say how many were left out.

Large runs are reduced before drawing, always deterministically and always said
in the caption: the slowdown CDF is drawn at fixed quantile levels that are
dense in the tail, the FCT scatter uses a seeded sample, and the pending-bytes
series keeps the maximum of each time bucket (the peaks are what matter).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import DdclabError
from .plot import Plot
from .style import color, new_figure, plain_log_ticks, style
from .values import flags, floats

# Above these sizes the figures show a reduction of the data (see module doc).
CDF_EXACT_MAX = 5000
SCATTER_MAX = 20000
SERIES_MAX = 4000
RASTERIZE_ABOVE = 2000
SAMPLE_SEED = 0

# The quantile method used everywhere here, so that a p99 in a figure equals
# the p99 in its CSV and in the report tables.
QUANTILE_METHOD = "linear"


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DdclabError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DdclabError(f"{what}: missing column(s) {', '.join(missing)}")


def completed_flows(flows: pd.DataFrame, what: str = "flows") -> tuple[pd.DataFrame, int]:
    """Rows of completed flows with a finite slowdown, and how many rows were dropped."""
    _require(flows, ["size_bytes", "fct_us", "slowdown"], what)
    ok = np.isfinite(floats(flows["slowdown"]))
    if "completed" in flows.columns:
        ok &= flags(flows["completed"])
    return flows.loc[ok], int((~ok).sum())


def _left_out(n: int) -> str:
    return f" {n} flow(s) that did not complete are left out." if n else ""


def slowdown_cdf(flows: pd.DataFrame, *, name: str = "slowdown_cdf", label: str | None = None) -> Plot:
    """Cumulative distribution of per-flow slowdown (log x axis)."""
    done, dropped = completed_flows(flows, "slowdown CDF")
    if done.empty:
        raise DdclabError("slowdown CDF: no completed flows to plot")
    s = np.sort(floats(done["slowdown"]))
    n = len(s)
    if n <= CDF_EXACT_MAX:
        data = pd.DataFrame({"slowdown": s, "cdf": np.arange(1, n + 1) / n})
        how = f"Empirical CDF of {n} completed flows."
    else:
        # Even steps for the body, log-spaced steps towards 1 for the tail, so
        # p99 and p99.9 are drawn where they are.
        body = np.linspace(0.0, 1.0, 1001)
        tail = 1.0 - np.geomspace(1e-2, 1.0 / n, 300)
        levels = np.unique(np.concatenate([body, tail, [1.0]]))
        data = pd.DataFrame(
            {"slowdown": np.quantile(s, levels, method=QUANTILE_METHOD), "cdf": levels}
        )
        how = f"CDF of {n} completed flows drawn at {len(levels)} quantile levels, denser in the tail."
    with style():
        fig = new_figure()
        ax = fig.add_subplot()
        ax.step(data["slowdown"], data["cdf"], where="post", color=color(0), label=label)
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set_xlabel("slowdown (FCT / OPT)")
        ax.set_ylabel("fraction of flows")
        ax.set_ylim(0, 1.01)
        ax.set_title("Slowdown CDF")
        if label:
            ax.legend()
    return Plot(name, "Slowdown CDF", fig, data, how + _left_out(dropped))


def size_bins(sizes: np.ndarray, bins: int) -> np.ndarray:
    """Log-spaced bin edges covering ``sizes`` (bytes), at most ``bins`` bins."""
    lo, hi = float(sizes.min()), float(sizes.max())
    if lo <= 0:
        raise DdclabError("slowdown by size: flow sizes must be positive bytes")
    if lo == hi:
        return np.array([lo, hi * (1 + 1e-9)])
    edges = np.geomspace(lo, hi, bins + 1)
    edges[-1] = np.nextafter(hi, np.inf)  # the largest flow falls in the last bin
    return edges


def slowdown_by_size(flows: pd.DataFrame, *, bins: int = 10, name: str = "slowdown_by_size") -> Plot:
    """Mean and p99 slowdown per flow-size bucket (log-spaced buckets)."""
    if bins < 1:
        raise DdclabError(f"slowdown by size: bins must be at least 1, got {bins}")
    done, dropped = completed_flows(flows, "slowdown by size")
    if done.empty:
        raise DdclabError("slowdown by size: no completed flows to plot")
    sizes = floats(done["size_bytes"])
    slow = floats(done["slowdown"])
    edges = size_bins(sizes, bins)
    which = np.clip(np.searchsorted(edges, sizes, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        vals = slow[which == b]
        if len(vals) == 0:
            continue  # an empty bucket has no mean; leave it out rather than plot a zero
        rows.append(
            {
                "size_lo_bytes": edges[b],
                "size_hi_bytes": edges[b + 1],
                "size_mid_bytes": float(np.sqrt(edges[b] * edges[b + 1])),
                "flows": len(vals),
                "mean_slowdown": float(vals.mean()),
                "p99_slowdown": float(np.quantile(vals, 0.99, method=QUANTILE_METHOD)),
            }
        )
    data = pd.DataFrame(rows)
    with style():
        fig = new_figure()
        ax = fig.add_subplot()
        ax.plot(data["size_mid_bytes"], data["mean_slowdown"], marker="o", color=color(0), label="mean")
        ax.plot(data["size_mid_bytes"], data["p99_slowdown"], marker="s", color=color(1), label="p99")
        ax.set_xscale("log")
        ax.set_xlabel("flow size, bytes (bucket geometric centre)")
        ax.set_ylabel("slowdown (FCT / OPT)")
        ax.set_title("Slowdown by flow size")
        ax.legend()
    caption = (
        f"{len(edges) - 1} log-spaced size buckets; a point is a bucket's mean or 99th "
        "percentile over its completed flows (empty buckets omitted)." + _left_out(dropped)
    )
    return Plot(name, "Slowdown by flow size", fig, data, caption)


def fct_vs_size(flows: pd.DataFrame, *, max_points: int = SCATTER_MAX, name: str = "fct_vs_size") -> Plot:
    """Scatter of FCT against flow size, with OPT for reference when present."""
    done, dropped = completed_flows(flows, "FCT vs size")
    if done.empty:
        raise DdclabError("FCT vs size: no completed flows to plot")
    n = len(done)
    if n > max_points:
        rng = np.random.default_rng(SAMPLE_SEED)
        pick = np.sort(rng.choice(n, size=max_points, replace=False))
        done = done.iloc[pick]
        how = f"A seeded random sample of {max_points} of {n} completed flows."
    else:
        how = f"All {n} completed flows."
    cols = [c for c in ("id", "size_bytes", "fct_us", "opt_us") if c in done.columns]
    data = done[cols].reset_index(drop=True)
    with style():
        fig = new_figure()
        ax = fig.add_subplot()
        # Thousands of SVG circles make a slow, multi-megabyte file; past a few
        # thousand the points are drawn as an image inside the SVG (axes stay vector).
        ax.scatter(floats(data["size_bytes"]), floats(data["fct_us"]), s=4, alpha=0.5, color=color(0),
                   label="FCT", rasterized=len(data) > RASTERIZE_ABOVE, linewidths=0)
        if "opt_us" in data.columns:
            order = np.argsort(floats(data["size_bytes"]), kind="stable")
            ax.plot(floats(data["size_bytes"])[order], floats(data["opt_us"])[order],
                    color=color(1), linewidth=1.0, label="OPT (alone in the network)")
            ax.legend()
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("flow size, bytes")
        ax.set_ylabel("flow completion time, µs")
        ax.set_title("FCT vs flow size")
    return Plot(name, "FCT vs flow size", fig, data, how + _left_out(dropped))


def pending_over_time(
    pending: pd.DataFrame, *, max_points: int = SERIES_MAX, name: str = "pending_bytes"
) -> Plot:
    """Bytes not yet delivered over simulated time."""
    _require(pending, ["time_us", "pending_bytes"], "pending bytes")
    if pending.empty:
        raise DdclabError("pending bytes: the time series is empty")
    series = pending[["time_us", "pending_bytes"]].sort_values("time_us", kind="stable")
    t = floats(series["time_us"])
    v = floats(series["pending_bytes"])
    if len(t) > max_points:
        # Keep each bucket's peak, stamped at the bucket's start: the backlog's
        # peaks survive the reduction, which an every-k-th sample would not promise.
        edges = np.linspace(t[0], t[-1], max_points + 1)
        which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, max_points - 1)
        peak = np.full(max_points, np.nan)
        np.fmax.at(peak, which, v)
        keep = ~np.isnan(peak)
        data = pd.DataFrame({"time_us": edges[:-1][keep], "pending_bytes": peak[keep]})
        how = f"{len(t)} samples reduced to the maximum of each of {max_points} equal time buckets."
    else:
        data = series.reset_index(drop=True)
        how = f"All {len(t)} samples."
    with style():
        fig = new_figure(6.4, 3.4)
        ax = fig.add_subplot()
        ax.step(floats(data["time_us"]) / 1e3, floats(data["pending_bytes"]), where="post", color=color(0))
        ax.set_xlabel("simulated time, ms")
        ax.set_ylabel("pending bytes")
        ax.set_title("Bytes not yet delivered")
        ax.set_ylim(bottom=0)
    return Plot(name, "Pending bytes over time", fig, data, how)


def drops_by_hop(drops: Mapping[str, float], *, name: str = "drops_by_hop") -> Plot:
    """Bar chart of packet drops at each hop (``summary["drops"]``), in the given order."""
    if not isinstance(drops, Mapping) or not drops:
        raise DdclabError("drops by hop: expected a non-empty mapping of hop -> drop count")
    hops = [str(k) for k in drops]
    try:
        counts = [float(drops[k]) for k in drops]
    except (TypeError, ValueError):
        raise DdclabError("drops by hop: drop counts must be numbers") from None
    data = pd.DataFrame({"hop": hops, "drops": counts})
    with style():
        fig = new_figure(6.4, 3.4)
        ax = fig.add_subplot()
        bars = ax.bar(range(len(hops)), counts, color=color(1))
        ax.set_xticks(range(len(hops)), hops)
        ax.bar_label(bars, labels=[f"{c:g}" for c in counts], fontsize=8)
        ax.grid(axis="x", visible=False)
        ax.set_xlabel("hop")
        ax.set_ylabel("packets dropped")
        ax.set_title("Drops by hop")
        if max(counts) == 0:
            ax.set_ylim(0, 1)  # an all-zero chart still needs a visible axis
    total = sum(counts)
    return Plot(name, "Drops by hop", fig, data, f"{total:g} packet(s) dropped in total.")
