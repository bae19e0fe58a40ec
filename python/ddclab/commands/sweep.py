"""``ddclab sweep``: one scenario over a parameter grid, in parallel."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from ..errors import DdclabError
from .progress import Bar


def _parse_axis(spec: str) -> tuple[str, list]:
    key, sep, raw = spec.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise DdclabError(f"--grid {spec!r}: expected KEY=V1,V2,...")
    values = []
    for item in raw.split(","):
        item = item.strip()
        try:
            values.append(tomllib.loads(f"v = {item}")["v"])
        except tomllib.TOMLDecodeError:
            values.append(item)
    return key.strip(), values


METRICS = ["mean_slowdown", "median_slowdown", "p99_slowdown", "normalized_fct", "throughput_gbps", "total_drops", "retransmissions"]


@click.command("sweep")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--grid", "axes", multiple=True, required=True, metavar="KEY=V1,V2,...", help="An axis of the grid (repeatable).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--workers", type=int, default=None, help="Local worker processes (default: one per core).")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="A Dask scheduler address (a cluster) instead of local workers.")
def command(scenario: Path, axes: tuple[str, ...], out_dir: Path, workers: int | None, scheduler: str | None) -> None:
    """Run SCENARIO over the cartesian product of --grid axes; write sweep.csv,
    sweep.parquet, plots and report.html. Finished points are cached in
    OUT/.cache, so an interrupted sweep resumes."""
    import pandas as pd

    from .. import sweep
    from ..report import HtmlReport, bar_chart, line_chart, write_csv
    from ..simulation import _core, load_scenario, write_parquet

    text, source, base = load_scenario(scenario)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DdclabError(f"{source}: {exc}") from None
    parsed = [_parse_axis(a) for a in axes]
    points = sweep.grid(data, dict(parsed))
    # Check every point before running any (errors name the point).
    core = _core()
    for p in points:
        try:
            core.check_scenario(p.text(), f"{source} with {p.labels}", [])
        except core.ScenarioError as exc:
            raise DdclabError(str(exc)) from None
    bar = Bar("sweep", len(points))
    try:
        results = sweep.run_points(points, out_dir / ".cache", workers=workers, scheduler=scheduler, progress=bar.update)
    finally:
        bar.close()
    rows = []
    for p, r in zip(points, results):
        row = {k: (v if not isinstance(v, (dict, list)) else str(v)) for k, v in p.labels.items()}
        row.update({m: r["summary"].get(m) for m in METRICS})
        rows.append(row)
    table = pd.DataFrame(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(table, out_dir / "sweep.csv")
    write_parquet(table, out_dir / "sweep.parquet")
    page = HtmlReport(f"Sweep of {source}", f"{len(points)} points over {', '.join(k for k, _ in parsed)}")
    page.table(table, "Every point")
    keys = [k for k, _ in parsed]
    x = next((k for k in keys if pd.api.types.is_numeric_dtype(table[k])), None)
    hue = next((k for k in keys if k != x), None) if len(keys) > 1 else None
    plots_dir = out_dir / "plots"
    for m in ["mean_slowdown", "p99_slowdown"]:
        if x is not None and len(keys) <= 2:
            plot = line_chart(table, x, hue, m, name=f"sweep_{m}", title=f"{m} vs {x}", out_dir=plots_dir)
        elif len(keys) <= 2:
            plot = bar_chart(table, keys[0], hue, m, name=f"sweep_{m}", title=f"{m} by {keys[0]}", out_dir=plots_dir)
        else:
            continue
        page.plot(plot, files_in="plots/")
    page.write(out_dir / "report.html")
    click.echo(table.to_string(index=False))
    click.echo(f"wrote {out_dir}/ (sweep.csv, sweep.parquet, report.html)")
