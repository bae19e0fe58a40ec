"""The report toolkit: figures, their numbers, and self-contained HTML pages.

Used by every command that writes results. The pieces:

* :class:`Plot` (:mod:`.plot`) - a figure plus the table of its plotted numbers;
  ``plot.save(dir)`` writes ``NAME.png``, ``NAME.svg`` and ``NAME.csv`` atomically
  and byte-for-byte reproducibly (:mod:`.style`).
* :mod:`.sim` - figures of one simulation: :func:`slowdown_cdf`,
  :func:`slowdown_by_size`, :func:`fct_vs_size`, :func:`pending_over_time`,
  :func:`drops_by_hop`.
* :mod:`.compare` - figures across runs: :func:`bar_chart`, :func:`line_chart`.
* :class:`HtmlReport` (:mod:`.html`) - a one-file HTML page with inline CSS and
  embedded PNGs.
* :func:`write_sim_report` (:mod:`.sim_report`) - all of the above for one run.
* :func:`write_csv` (:mod:`.csvdata`) - the CSV convention for plotted numbers.
"""

from __future__ import annotations

from .compare import bar_chart, line_chart
from .csvdata import to_csv_text, write_csv
from .html import HtmlReport, format_value
from .plot import Plot, SavedPlot
from .sim import drops_by_hop, fct_vs_size, pending_over_time, slowdown_by_size, slowdown_cdf
from .sim_report import SimReport, write_sim_report

__all__ = [
    "HtmlReport",
    "Plot",
    "SavedPlot",
    "SimReport",
    "bar_chart",
    "drops_by_hop",
    "fct_vs_size",
    "format_value",
    "line_chart",
    "pending_over_time",
    "slowdown_by_size",
    "slowdown_cdf",
    "to_csv_text",
    "write_csv",
    "write_sim_report",
]
