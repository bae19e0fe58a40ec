"""A drawn figure together with the numbers it shows, and how it is saved.

Every plotting helper in :mod:`ddclab.report` returns a :class:`Plot`. Saving
one writes three files atomically: ``NAME.png`` and ``NAME.svg`` (the picture)
and ``NAME.csv`` (every plotted number). The same data always gives the same
bytes (see :mod:`ddclab.report.style`), so results can be diffed and cached.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from .. import atomic
from ..errors import DdclabError
from .csvdata import write_csv
from .style import PNG_DPI, style

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_name(name: str) -> str:
    """A plot name becomes a file name; refuse anything that could leave the directory."""
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith("."):
        raise DdclabError(
            f"plot name {name!r} must be letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class SavedPlot:
    """Where :meth:`Plot.save` put the three files."""

    png: Path
    svg: Path
    csv: Path


@dataclass
class Plot:
    """A figure, the table of its plotted numbers, and the words that go with it."""

    name: str
    title: str
    figure: Figure
    data: pd.DataFrame
    caption: str = ""
    _png: bytes | None = field(default=None, init=False, repr=False)
    _svg: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        check_name(self.name)

    def _render(self, fmt: str) -> bytes:
        buf = io.BytesIO()
        with style():
            # No creation date, no software version: equal data, equal bytes.
            metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
            self.figure.savefig(buf, format=fmt, dpi=PNG_DPI, metadata=metadata)
        return buf.getvalue()

    def png_bytes(self) -> bytes:
        if self._png is None:
            self._png = self._render("png")
        return self._png

    def svg_bytes(self) -> bytes:
        if self._svg is None:
            self._svg = self._render("svg")
        return self._svg

    def save(self, out_dir: str | os.PathLike) -> SavedPlot:
        """Write ``NAME.png``, ``NAME.svg`` and ``NAME.csv`` into ``out_dir``."""
        out = Path(out_dir)
        saved = SavedPlot(out / f"{self.name}.png", out / f"{self.name}.svg", out / f"{self.name}.csv")
        atomic.write_bytes(saved.png, self.png_bytes())
        atomic.write_bytes(saved.svg, self.svg_bytes())
        write_csv(self.data, saved.csv)
        return saved
