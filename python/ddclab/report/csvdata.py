"""CSV output for "every plotted number": atomic, and byte-stable for equal data.

Each figure ddclab draws is saved next to a CSV holding exactly the numbers on
it (after any binning or sampling), so a reader can re-plot, check or cite a
value without re-running anything.
"""

from __future__ import annotations

import os

import pandas as pd

from .. import atomic


def to_csv_text(frame: pd.DataFrame) -> str:
    """The CSV text of ``frame``: no index, ``\\n`` line ends, floats written in
    full (round-trip) precision and missing values as empty fields."""
    return frame.to_csv(index=False, lineterminator="\n", na_rep="")


def write_csv(frame: pd.DataFrame, target: str | os.PathLike) -> None:
    """Write ``frame`` to ``target`` atomically (see :mod:`ddclab.atomic`)."""
    atomic.write_text(target, to_csv_text(frame))
