"""``ddclab sim``: run and check simulation scenarios."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..errors import DdclabError


class _LazyProgress:
    """A progress bar that appears only once a run has taken a second, so
    short runs print nothing but their summary."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.monotonic()
        self.bar = None
        self.task = None

    def __call__(self, done: int, total: int, sim_us: float) -> None:
        if self.quiet:
            return
        if self.bar is None:
            if time.monotonic() - self.t0 < 1.0:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("simulating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("flows  [dim]{task.fields[sim]}[/dim]"),
                TimeElapsedColumn(),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("sim", total=total, sim="")
        self.bar.update(self.task, completed=done, sim=f"t = {sim_us:,.0f} us")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _fmt(v) -> str:
    if isinstance(v, float):
        if v != v:
            return "-"
        return f"{v:,.3f}" if abs(v) < 1e6 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def print_summary(result, out_dir: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    s = result.summary
    console = Console()
    t = Table(title=f"{s['protocol']}: {s['completed']:,} of {s['flows']:,} flows completed", title_justify="left")
    t.add_column("flows")
    for c in ["count", "mean slowdown", "median", "p99", "p99.9", "norm. FCT"]:
        t.add_column(c, justify="right")
    rows = [("all", {"count": s["flows"], **s})] + [(k, v) for k, v in s["by_class"].items()]
    for name, c in rows:
        t.add_row(
            name,
            _fmt(c.get("count")),
            _fmt(c.get("mean_slowdown")),
            _fmt(c.get("median_slowdown")),
            _fmt(c.get("p99_slowdown")),
            _fmt(c.get("p999_slowdown")),
            _fmt(c.get("normalized_fct")),
        )
    console.print(t)
    drops = ", ".join(f"{k} {v:,}" for k, v in s["drops"].items())
    console.print(
        f"throughput {s['throughput_gbps']:,.1f} Gbps · drops {s['total_drops']:,} ({drops}) · "
        f"retransmissions {s['retransmissions']:,} · simulated {s['sim_time_us']:,.1f} us"
    )
    r = result.run
    if r.get("wall_s"):
        console.print(f"[dim]{r['events']:,} events in {r['wall_s']:.2f} s ({r['events'] / r['wall_s'] / 1e6:.1f} M events/s)[/dim]")
    if out_dir is not None:
        console.print(f"wrote {out_dir}/ (flows.parquet, summary.json, report.html, plots/)")


@click.group("sim")
def command() -> None:
    """Packet-level simulation of datacenter transports."""


@command.command("run")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory for the results.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a scenario key, e.g. --set workload.load=0.7 (repeatable).")
@click.option("--no-report", is_flag=True, help="Skip report.html and the plots.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table.")
def run_cmd(scenario: Path, out_dir: Path, overrides: tuple[str, ...], no_report: bool, quiet: bool) -> None:
    """Run SCENARIO (a TOML file) and write its results to --out."""
    from ..simulation import simulate

    for ov in overrides:
        if "=" not in ov:
            raise DdclabError(f"--set {ov!r}: expected KEY=VALUE")
    progress = _LazyProgress(quiet)
    try:
        result = simulate(scenario, overrides=list(overrides), progress=progress)
    finally:
        progress.close()
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    result.write(out_dir, report=not no_report)
    if not quiet:
        print_summary(result, out_dir)


@command.command("check")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
def check_cmd(scenario: Path, overrides: tuple[str, ...]) -> None:
    """Validate SCENARIO without running it."""
    from ..simulation import _core, load_scenario

    core = _core()
    text, source, _ = load_scenario(scenario)
    try:
        warnings = core.check_scenario(text, source, list(overrides))
    except core.ScenarioError as exc:
        raise DdclabError(str(exc)) from None
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"{source}: ok")


@command.command("protocols")
def protocols_cmd() -> None:
    """List the transports the simulator implements."""
    from ..simulation import _core

    for p in _core().protocols():
        click.echo(p)
