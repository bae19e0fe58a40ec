"""One fixed matplotlib style for every ddclab figure, chosen for reproducibility.

Figures are drawn with the Agg renderer on :class:`matplotlib.figure.Figure`
objects that never touch pyplot, so nothing depends on the user's backend, on
pyplot's global figure list, or on an interactive session. Everything the
renderer reads from ``rcParams`` is pinned inside :func:`style` - starting from
matplotlib's defaults, so a user's ``matplotlibrc`` cannot change our output -
and the SVG writer gets a fixed hash salt, which is what makes its element ids
(and therefore the file) repeat byte for byte.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import matplotlib.style
from cycler import cycler  # matplotlib's own dependency
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in
# greyscale print, in a fixed order so a protocol keeps its colour across figures
# that list the same series in the same order.
PALETTE = [
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]

PNG_DPI = 120

_RC = {
    "svg.hashsalt": "ddclab",  # fixed ids in SVG output
    "svg.fonttype": "path",  # glyphs as paths: no dependence on the viewer's fonts
    "font.family": "DejaVu Sans",  # ships with matplotlib
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.prop_cycle": cycler(color=PALETTE),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 8.0,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.0,
    "savefig.dpi": PNG_DPI,
    "figure.dpi": PNG_DPI,
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Matplotlib's defaults plus ddclab's settings, for drawing and saving."""
    with matplotlib.style.context(["default", _RC]):
        yield


def new_figure(width: float = 6.4, height: float = 4.0) -> Figure:
    """A figure with an Agg canvas and constrained layout (call inside :func:`style`)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def marker(i: int) -> str:
    return MARKERS[i % len(MARKERS)]


def plain_log_ticks(axis) -> None:
    """Label a log axis with plain numbers (1, 2, 5, 10) instead of 2×10⁰.

    Slowdowns often span less than a decade, where matplotlib's default labels
    the minor ticks in scientific notation; this keeps minor labels only while
    the axis is narrow enough for them (matplotlib thins them itself)."""
    from matplotlib.ticker import LogFormatter

    axis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
