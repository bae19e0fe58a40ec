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
