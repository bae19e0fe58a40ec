"""``ddclab reproduce``: regenerate a paper's evaluation in one command."""

from __future__ import annotations

from pathlib import Path

import click

from .progress import Bar


@click.group("reproduce")
def command() -> None:
    """Regenerate published figures (HTML report, PNG/SVG plots, CSV of every number)."""


@command.command("phost")
@click.option("--scale", type=click.Choice(["tiny", "small", "paper"]), default="small", show_default=True,
              help="small: minutes on a laptop; paper: the paper's flow counts.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out/phost"), show_default=True)
@click.option("--workers", type=int, default=None, help="Local worker processes (default: one per core).")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Run on an existing Dask scheduler.")
def phost_cmd(scale: str, out_dir: Path, workers: int | None, scheduler: str | None) -> None:
    """The pHost evaluation (CoNEXT 2015; dissertation chapter 5)."""
    from ..experiments import phost
    from ..simulation import _core

    bar = Bar(f"phost ({scale})", 1)
    try:
        html = phost.run(out_dir, scale, list(_core().protocols()), workers=workers, scheduler=scheduler, progress=bar.update)
    finally:
        bar.close()
    click.echo(f"wrote {html} (plots in {out_dir / 'plots'}, numbers in {out_dir / 'points.csv'})")


@command.command("ddc-requirements")
@click.option("--scale", type=click.Choice(["tiny", "small", "paper"]), default="small", show_default=True,
              help="tiny: seconds, C kernels only (tests); small: under 30 minutes on 2 cores; paper: larger data, 5 repetitions.")
@click.option("--apps", "apps_spec", default=None, metavar="A,B", help="Comma-separated apps (default: the scale's set). See --list-apps.")
@click.option("--reps", type=int, default=None, help="Repetitions per point; the median is used (default: 1 tiny, 3 small, 5 paper).")
@click.option("--class-reps", type=int, default=None,
              help="Repetitions of the three points that decide the classes (default: 9 at small and paper, else --reps).")
@click.option("--setup", is_flag=True, help="Install the apps (apt-get, compilers) and exit.")
@click.option("--list-apps", is_flag=True, help="List the apps, whether each can run now, and exit.")
@click.option("--idle-poll", default="auto", show_default=True,
              help="auto, on or off: keep idle CPUs polling during the runs (see `ddclab emu run --help`); recorded in the report.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out/ddc-requirements"), show_default=True)
def ddc_requirements_cmd(scale: str, apps_spec: str | None, reps: int | None, class_reps: int | None, setup: bool,
                         list_apps: bool, idle_poll: str, out_dir: Path) -> None:
    """Application degradation under remote memory (OSDI'16 figures 2-6, table 3, classes A/B)."""
    from .. import apps
    from ..experiments import ddc_requirements as exp

    exp.check_reps(reps, class_reps)
    names = exp.parse_apps(apps_spec, exp.SCALES[scale]) if apps_spec else apps.names()
    if list_apps:
        for n in names:
            a = apps.get(n)
            why = a.unavailable()
            click.echo(f"{n:16} {a.kind:8} {a.metric:10} {'ready' if why is None else 'unavailable: ' + why}")
        return
    if setup:
        for n in names:
            click.echo(f"installing {n} ...")
            apps.get(n).install()
        click.echo("all apps installed")
        return
    bar = Bar(f"ddc-requirements ({scale})", 1)
    try:
        html = exp.run(out_dir, scale, apps=apps_spec, reps=reps, class_reps=class_reps, idle_poll=idle_poll, progress=bar.update,
                       log=lambda m: click.echo(m, err=True))
    finally:
        bar.close()
    click.echo(f"wrote {html} (plots in {out_dir / 'plots'}, numbers in {out_dir / 'points.csv'})")
