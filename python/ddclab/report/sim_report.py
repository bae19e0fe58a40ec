"""The report of one simulation run: figures, their numbers, and ``report.html``.

:func:`write_sim_report` is what ``ddclab sim run`` (and anything else that runs
one simulation) calls after writing ``flows.parquet`` and ``summary.json``::

    out_dir/
      report.html            self-contained: tables, embedded figures, scenario, notes
      plots/NAME.png|svg     each figure, both formats
      plots/NAME.csv         every number drawn in that figure

Same inputs, same bytes - including ``report.html``. For that reason values that
change from one rerun to the next (wall-clock time) stay in ``summary.json`` and
are left out of the page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ..errors import DdclabError
from . import sim
from .html import HtmlReport
from .plot import Plot, SavedPlot
from .values import floats

# Summary keys that differ between reruns of the same scenario and seed.
VOLATILE_KEYS = ("wall_s",)

# How the summary table names the simulator's keys; others appear as they are.
_LABELS = {
    "protocol": "protocol",
    "flows": "flows",
    "completed": "flows completed",
    "mean_slowdown": "mean slowdown",
    "median_slowdown": "median slowdown",
    "p99_slowdown": "99th-percentile slowdown",
    "p999_slowdown": "99.9th-percentile slowdown",
    "normalized_fct": "normalised FCT (sum FCT / sum OPT)",
    "throughput_gbps": "throughput, Gbit/s",
    "retransmissions": "retransmissions",
    "sim_time_us": "simulated time, µs",
    "events": "events processed",
    "packets": "packets",
}

REQUIRED_FLOW_COLUMNS = ["size_bytes", "fct_us", "slowdown"]


@dataclass(frozen=True)
class SimReport:
    """What :func:`write_sim_report` wrote."""

    html: Path
    plots: dict[str, SavedPlot] = field(default_factory=dict)
    omitted: dict[str, str] = field(default_factory=dict)  # figure name -> why


def _scalars(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {
        _LABELS.get(k, k): v
        for k, v in summary.items()
        if k not in VOLATILE_KEYS and not isinstance(v, (Mapping, list, tuple))
    }


def _by_class_rows(by_class: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for cls, stats in by_class.items():
        row = {"class": cls}
        if isinstance(stats, Mapping):
            row.update(stats)
        rows.append(row)
    return rows


def _tenant_rows(done: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for tenant, part in done.groupby("tenant", sort=True):
        s = floats(part["slowdown"])
        rows.append(
            {
                "tenant": tenant,
                "flows completed": len(s),
                "mean slowdown": float(s.mean()),
                "p99 slowdown": float(np.quantile(s, 0.99, method=sim.QUANTILE_METHOD)),
            }
        )
    return rows


def write_sim_report(
    out_dir: str | os.PathLike,
    flows: pd.DataFrame,
    summary: Mapping[str, Any],
    pending: pd.DataFrame | None = None,
    scenario_text: str | None = None,
    *,
    title: str | None = None,
) -> SimReport:
    """Write the figures, their CSVs and ``report.html`` of one simulation into ``out_dir``.

    ``flows`` needs ``size_bytes``, ``fct_us`` and ``slowdown`` (plus, when the
    simulator provides them, ``completed``, ``opt_us``, ``tenant`` ...);
    ``pending`` (``time_us``, ``pending_bytes``) and ``scenario_text`` are optional.
    A figure that has nothing to show (say, no flow completed) is left out with a
    note in the page; missing columns are an error.
    """
    if not isinstance(summary, Mapping):
        raise DdclabError(f"simulation report: summary must be a mapping, got {type(summary).__name__}")
    sim._require(flows, REQUIRED_FLOW_COLUMNS, "simulation report: flows")
    if pending is not None:
        sim._require(pending, ["time_us", "pending_bytes"], "simulation report: pending")

    out = Path(out_dir)
    plots_dir = out / "plots"
    protocol = summary.get("protocol")
    page = HtmlReport(
        title or (f"Simulation report: {protocol}" if protocol else "Simulation report"),
        f"{len(flows)} flows" + (f", protocol {protocol}" if protocol else ""),
    )

    # Figures are built first so that the page can list the omitted ones.
    builders: list[tuple[str, Callable[[], Plot]]] = [
        ("slowdown_cdf", lambda: sim.slowdown_cdf(flows)),
        ("slowdown_by_size", lambda: sim.slowdown_by_size(flows)),
        ("fct_vs_size", lambda: sim.fct_vs_size(flows)),
    ]
    if pending is not None:
        builders.append(("pending_bytes", lambda: sim.pending_over_time(pending)))
    if isinstance(summary.get("drops"), Mapping) and summary["drops"]:
        builders.append(("drops_by_hop", lambda: sim.drops_by_hop(summary["drops"])))
    plots: list[Plot] = []
    omitted: dict[str, str] = {}
    for name, build in builders:
        try:
            plots.append(build())
        except DdclabError as exc:  # nothing to draw; say so instead of failing the run
            omitted[name] = str(exc)

    page.heading("Summary")
    page.key_values(_scalars(summary), "Run summary (from summary.json)")
    if isinstance(summary.get("by_class"), Mapping) and summary["by_class"]:
        page.table(_by_class_rows(summary["by_class"]), "Slowdown by flow-size class")
    if isinstance(summary.get("drops"), Mapping) and summary["drops"]:
        page.table([{"hop": k, "drops": v} for k, v in summary["drops"].items()], "Packet drops by hop")
    if "tenant" in flows.columns:
        done, _ = sim.completed_flows(flows)
        if done["tenant"].nunique(dropna=True) > 1:
            page.table(_tenant_rows(done), "Slowdown by tenant (completed flows)")

    page.heading("Figures")
    saved: dict[str, SavedPlot] = {}
    for plot in plots:
        saved[plot.name] = plot.save(plots_dir)
        page.plot(plot, files_in="plots/")
    for name, why in omitted.items():
        page.note(why, f"Figure {name} omitted")

    if scenario_text:
        page.heading("Scenario")
        page.preformatted(scenario_text)

    page.heading("Method and provenance")
    page.bullets(
        [
            "Slowdown of a flow = FCT / OPT, where OPT is its completion time alone in the "
            "network (one documented function in the simulator). Only completed flows have one.",
            f"Percentiles in figures and in the per-tenant table use numpy's '{sim.QUANTILE_METHOD}' "
            "method; the summary and per-class tables are the simulator's own numbers.",
            "Large runs are reduced before drawing, deterministically; each figure's caption "
            "says how, and its CSV holds exactly the numbers drawn.",
            "Wall-clock time is in summary.json and left out of this page so that rerunning "
            "the same scenario and seed gives an identical page.",
        ]
    )
    from .. import __version__

    page.note(f"Written by ddclab {__version__}. Figures and CSVs are in plots/ beside this file.",
              "Provenance")
    html_path = page.write(out / "report.html")
    return SimReport(html_path, saved, omitted)
