"""``ddclab reproduce phost``: the evaluation of pHost (Gao et al., CoNEXT
2015; chapter 5 of Gao's dissertation) in one command.

Setting (the paper's): the 144-host leaf-spine (9 racks of 16, 4 spines),
10 Gbps hosts, 40 Gbps fabric, 200 ns links, 36 KiB per port, packet
spraying in the fabric (per-flow ECMP for TCP and DCTCP); Web Search,
Data Mining and IMC10 flow sizes; Poisson arrivals; load 0.6 unless varied.
Every protocol the simulator has among pFabric, pHost, Fastpass, the SRPT
ideal, DCTCP and TCP is run; missing ones are listed in the report.

Each figure is a set of simulation points. Points are deduplicated (the same
scenario serves several figures), run in parallel on Dask and cached, so a
rerun or an interrupted run costs only what is missing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ..sweep import Point, run_points

ALL_PROTOCOLS = ["pfabric", "phost", "fastpass", "ideal", "dctcp", "tcp"]
WORKLOADS = ["websearch", "datamining", "imc10"]
LABEL = {"websearch": "Web Search", "datamining": "Data Mining", "imc10": "IMC10"}


@dataclass(frozen=True)
class Scale:
    name: str
    #: flows per point for each workload
    flows: dict
    loads: tuple
    fractions: tuple
    buffers_kb: tuple
    stability_loads: tuple
    #: flows of the two-tenant point (long enough for backlogs to build:
    #: sharing only shows once both tenants wait at the same hosts)
    tenant_flows: int = 8000
    seeds: int = 1


SCALES = {
    # For tests: seconds.
    "tiny": Scale("tiny", {"websearch": 150, "datamining": 60, "imc10": 300}, (0.5, 0.6), (0.0, 0.9), (12, 36), (0.6,), tenant_flows=600),
    # Under 10 minutes on 2 cores.
    "small": Scale(
        "small",
        {"websearch": 1500, "datamining": 600, "imc10": 4000},
        (0.5, 0.6, 0.7, 0.8),
        (0.0, 0.5, 0.9, 0.995),
        (6, 12, 24, 36, 72),
        (0.6, 0.7, 0.8),
        tenant_flows=8000,
    ),
    # The paper's flow counts (hours on a laptop, minutes on a cluster).
    "paper": Scale(
        "paper",
        {"websearch": 100_000, "datamining": 100_000, "imc10": 100_000},
        (0.5, 0.6, 0.7, 0.8),
        (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.995),
        (6, 12, 18, 24, 36, 48, 60, 72),
        (0.6, 0.7, 0.8),
        tenant_flows=100_000,
    ),
}


def scenario(protocol: str, *, sizes: str = "websearch", flows: int, load: float = 0.6, seed: int = 1, **extra) -> dict:
    """The paper's setting with the given changes. ``extra`` keys are
    ``table.key`` strings."""
    # The fabric sprays packets over equal-cost paths, as in the pFabric and
    # pHost evaluations (full bisection: congestion is at the edges). TCP and
    # DCTCP keep per-flow ECMP, as they are deployed: spraying would reorder
    # their packets into spurious fast retransmissions.
    routing = "ecmp" if protocol in ("tcp", "dctcp") else "spray"
    sc: dict[str, Any] = {
        "name": "phost-eval",
        "seed": seed,
        "topology": {"kind": "leaf-spine", "host_rate": "10Gbps", "buffer": "36KiB", "routing": routing},
        "transport": {"protocol": protocol},
        "workload": {"sizes": sizes, "load": load, "flows": flows, "deadline_mean": "1000us"},
    }
    for k, v in extra.items():
        table, key = k.split(".", 1)
        sc.setdefault(table, {})[key] = v
    return sc


@dataclass
class Experiment:
    """The points of every figure and what the report says of them."""

    scale: Scale
    protocols: list[str]
    points: dict[str, list[Point]]


def build(scale: Scale, protocols: list[str]) -> Experiment:
    f = scale.flows
    pts: dict[str, list[Point]] = {}

    def point(fig: str, sc: dict, keep=("pending",), **labels) -> None:
        pts.setdefault(fig, []).append(Point(sc, labels, keep=tuple(keep)))

    for p in protocols:
        for w in WORKLOADS:
            for load in sorted(set(scale.loads) | {0.6}):
                point("load", scenario(p, sizes=w, flows=f[w], load=load), protocol=p, workload=w, load=load)
        for frac in scale.fractions:
            point(
                "bimodal",
                scenario(p, sizes="bimodal", flows=f["websearch"], **{"workload.bimodal": {"short": 3, "long": 700, "short_fraction": frac}}),
                protocol=p,
                short_fraction=frac,
            )
        point("matrix", scenario(p, flows=f["websearch"], **{"workload.matrix": "permutation"}), protocol=p, matrix="permutation")
        point(
            "matrix",
            scenario(p, flows=f["websearch"], load=0.3, **{"workload.matrix": "incast", "workload.incast_senders": 32, "workload.incast_response": "64KiB"}),
            protocol=p,
            matrix="incast",
        )
        for kb in scale.buffers_kb:
            point("buffer", scenario(p, flows=f["websearch"], **{"topology.buffer": f"{kb}KB"}), protocol=p, buffer_kb=kb)
    # Two tenants offering equal loads, one with IMC10 and one with Web Search
    # sizes, over capacity (1.2) so that the scheduler decides the shares:
    # pFabric (SRPT) against pHost with its tenant-fair policy.
    for p in [x for x in ("pfabric", "phost") if x in protocols]:
        extra = {"workload.tenant_sizes": ["imc10", "websearch"]}
        if p == "phost":
            extra["transport.phost_policy"] = "tenant-fair"
        point("tenants", scenario(p, flows=scale.tenant_flows, load=1.2, **extra), keep=("tenants",), protocol=p)
    return Experiment(scale, protocols, pts)


def _row(point: Point, res: dict) -> dict:
    s = res["summary"]
    row = dict(point.labels)
    row.update(
        mean_slowdown=s["mean_slowdown"],
        p99_slowdown=s["p99_slowdown"],
        short_mean_slowdown=s["by_class"]["short"]["mean_slowdown"],
        long_mean_slowdown=s["by_class"]["long"]["mean_slowdown"],
        normalized_fct=s["normalized_fct"],
        throughput_gbps=s["throughput_gbps"],
        deadlines_met=s["deadlines_met"],
        drop_rate=(s["total_drops"] / s["packets"]) if s.get("packets") else None,
        completed=s["completed"],
        flows=s["flows"],
    )
    for hop, n in s["drops"].items():
        row[f"drops_{hop}"] = n
    return row


def run(
    out_dir: Path,
    scale_name: str,
    available: list[str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    from ..report import HtmlReport, bar_chart, line_chart, write_csv

    t0 = time.monotonic()
    scale = SCALES[scale_name]
    protocols = [p for p in ALL_PROTOCOLS if p in available]
    missing = [p for p in ALL_PROTOCOLS if p not in available]
    exp = build(scale, protocols)
    unique: dict[str, Point] = {}
    for fig_points in exp.points.values():
        for p in fig_points:
            unique.setdefault(p.key(), p)
    order = list(unique.values())
    results = run_points(order, out_dir / ".cache", workers=workers, scheduler=scheduler, progress=progress)
    by_key = {p.key(): r for p, r in zip(order, results)}
    tables = {fig: pd.DataFrame([_row(p, by_key[p.key()]) for p in pts]) for fig, pts in exp.points.items()}
    plots = out_dir / "plots"
    page = HtmlReport(
        "pHost evaluation, reproduced",
        f"scale {scale.name}: {len(order)} simulations; protocols: {', '.join(protocols)}",
    )
    page.paragraph(
        "Setting of the pHost paper (CoNEXT 2015) and of chapter 5 of Gao's dissertation: 144 hosts in 9 racks "
        "of 16 under 4 spines, 10 Gbps hosts, 40 Gbps fabric links, 200 ns per link, 36 KiB per switch port, "
        "packet spraying over the spines (TCP and DCTCP: per-flow ECMP, since spraying reorders their packets), "
        "Poisson flow arrivals; slowdown = FCT / OPT with OPT the flow alone at line rate. Flows per point: "
        + ", ".join(f"{LABEL[w]} {n:,}" for w, n in scale.flows.items())
        + "."
    )
    if scale.name != "paper":
        page.note(
            f"At scale {scale.name} each point has only a few flows per host, so the network never reaches a "
            "steady state and effects of load and buffer size are muted; the protocols' order is what these "
            "runs show. `--scale paper` uses the paper's flow counts.",
            "Scale",
        )
    if missing:
        page.note(f"Not implemented in this build, so absent from every figure: {', '.join(missing)}.", "Missing protocols")
    main = tables["load"][tables["load"]["load"] == 0.6].copy()
    main["workload"] = main["workload"].map(LABEL)
    wl_order = [LABEL[w] for w in WORKLOADS]

    def bars(df, y, name, title, ylabel, caption="", x="workload", x_order=wl_order, log_y=False):
        plot = bar_chart(df, x, "protocol", y, name=name, title=title, ylabel=ylabel, x_order=x_order, hue_order=protocols, caption=caption, out_dir=plots, log_y=log_y)
        page.plot(plot, files_in="plots/")

    def lines(df, x, y, name, title, xlabel, ylabel, caption="", log_x=False, log_y=False):
        plot = line_chart(df, x, "protocol", y, name=name, title=title, xlabel=xlabel, ylabel=ylabel, hue_order=protocols, caption=caption, out_dir=plots, log_x=log_x, log_y=log_y)
        page.plot(plot, files_in="plots/")

    page.heading("Figure 5.3: mean slowdown at load 0.6")
    bars(main, "mean_slowdown", "fig5_3_mean_slowdown", "Mean slowdown, load 0.6", "mean slowdown (log)", log_y=True)
    page.heading("Figure 5.4: short and long flows")
    bars(main, "short_mean_slowdown", "fig5_4_short", "Short flows (< 100 KB): mean slowdown", "mean slowdown (log)", log_y=True)
    bars(main, "long_mean_slowdown", "fig5_4_long", "Long flows (> 10 MB): mean slowdown", "mean slowdown",
         caption="IMC10 has no flow above 10 MB, so it has no bar here.")
    page.heading("Figure 5.5: other metrics at load 0.6")
    bars(main, "normalized_fct", "fig5_5_normalized_fct", "Normalized FCT (mean FCT / mean OPT)", "normalized FCT")
    bars(main, "throughput_gbps", "fig5_5_throughput", "Throughput (delivered bits / run time)", "Gbps")
    bars(main, "deadlines_met", "fig5_5_deadlines", "Fraction of flows meeting their deadline", "fraction",
         caption="Deadlines are exponential with mean 1000 us, raised to 1.25 x OPT where smaller.")
    bars(main, "p99_slowdown", "fig5_5_p99", "99th-percentile slowdown", "p99 slowdown", log_y=True)
    ws = tables["load"][tables["load"]["workload"] == "websearch"]
    lines(ws, "load", "drop_rate", "fig5_5_drop_rate", "Drop rate vs load (Web Search)", "load", "drops / packets sent")
    hops = [c for c in main.columns if c.startswith("drops_")]
    hop_rows = []
    for _, r in main[main["workload"] == "Web Search"].iterrows():
        for c in hops:
            hop_rows.append({"hop": c[len("drops_"):], "protocol": r["protocol"], "drops": r[c]})
    hop_df = pd.DataFrame(hop_rows)
    bars(hop_df, "drops", "fig5_5_drops_by_hop", "Drops at each hop (Web Search, load 0.6)", "packets dropped",
         x="hop", x_order=["host_nic", "tor_up", "spine", "tor_down"])
    page.heading("Figure 5.6: varying the load")
    for w in WORKLOADS:
        lines(tables["load"][tables["load"]["workload"] == w], "load", "mean_slowdown", f"fig5_6_{w}", f"Mean slowdown vs load ({LABEL[w]})", "load", "mean slowdown (log)", log_y=True)
    page.heading("Figure 5.7: stability")
    for load in scale.stability_loads:
        series = []
        for p in exp.points["load"]:
            if p.labels["workload"] == "websearch" and p.labels["load"] == load:
                pend = by_key[p.key()].get("pending") or {"time_us": [], "pending_bytes": []}
                for t, b in zip(pend["time_us"], pend["pending_bytes"]):
                    series.append({"time_ms": t / 1000.0, "protocol": p.labels["protocol"], "pending_packets": b / 1460.0})
        if series:
            lines(pd.DataFrame(series), "time_ms", "pending_packets", f"fig5_7_load{int(load * 100)}",
                  f"Packets waiting at sources over time (Web Search, load {load})", "time (ms)", "pending packets",
                  caption="Payload that has arrived at its source but not yet been handed to the NIC, in 1460 B packets; the peak of each time bucket. A line that keeps rising means the protocol cannot sustain the load.")
    page.heading("Figure 5.8: bimodal flow sizes")
    lines(tables["bimodal"].assign(short_pct=lambda d: d["short_fraction"] * 100), "short_pct", "mean_slowdown", "fig5_8_bimodal",
          "Mean slowdown, 3- and 700-packet flows", "short flows (%)", "mean slowdown (log)", log_y=True)
    page.heading("Figure 5.9: traffic matrices")
    bars(tables["matrix"], "mean_slowdown", "fig5_9_matrices", "Mean slowdown by traffic matrix", "mean slowdown",
         x="matrix", x_order=["permutation", "incast"],
         caption="Permutation: Web Search sizes at load 0.6 between fixed host pairs. Incast: 32 senders answer one receiver with 64 KiB each, incasts arriving at load 0.3.")
    page.heading("Figure 5.10: buffer size")
    lines(tables["buffer"], "buffer_kb", "mean_slowdown", "fig5_10_buffers", "Mean slowdown vs per-port buffer (Web Search, load 0.6)", "buffer (KB)", "mean slowdown (log)", log_y=True)
    if "tenants" in exp.points:
        page.heading("Figure 5.11: two tenants")
        rows = []
        shares = []
        for p in exp.points["tenants"]:
            tt = by_key[p.key()]["tenants"]
            df = pd.DataFrame(tt)
            if df.empty:
                continue
            wide = df.pivot_table(index="time_us", columns="tenant", values="gbps", aggfunc="sum").fillna(0.0)
            total = wide.sum(axis=1)
            share = (wide.get(0, 0.0) / total.where(total > 0)).fillna(0.5)
            for t, v in share.items():
                rows.append({"time_ms": t / 1000.0, "protocol": p.labels["protocol"], "imc10_share": v})
            overall = df.groupby("tenant")["gbps"].sum()
            shares.append({"protocol": p.labels["protocol"], "tenant": "IMC10", "share": overall.get(0, 0) / overall.sum()})
            shares.append({"protocol": p.labels["protocol"], "tenant": "Web Search", "share": overall.get(1, 0) / overall.sum()})
        if rows:
            lines(pd.DataFrame(rows), "time_ms", "imc10_share", "fig5_11_share_over_time", "IMC10 tenant's share of throughput over time", "time (ms)", "share",
                  caption="Two tenants each offer load 0.6 (1.2 in all, over capacity), one with IMC10 sizes and one with Web Search sizes; pFabric schedules SRPT, pHost its tenant-fair policy. A fair share is 0.5. Throughput is the payload delivered to each tenant's receivers (finished or not), measured by the simulator over the arrival period after its first fifth (warm-up).")
            sh = pd.DataFrame(shares)
            plot = bar_chart(sh, "tenant", "protocol", "share", name="fig5_11_share", title="Throughput share per tenant", ylabel="share", out_dir=plots)
            page.plot(plot, files_in="plots/")
    everything = pd.concat([t.assign(figure=fig) for fig, t in tables.items()], ignore_index=True)
    write_csv(everything, out_dir / "points.csv")
    page.heading("Every point")
    page.table(everything, "Every simulation and its metrics (also points.csv)")
    wall = time.monotonic() - t0
    page.paragraph(f"Wall time of this reproduction: {wall:.0f} s (points already cached are not re-run).")
    return page.write(out_dir / "report.html")
