"""Flow-trace input: a CSV or Parquet file with one flow per row.

Columns (names as given, any order):

=============  ========  ==========================================
column         required  meaning
=============  ========  ==========================================
``start_us``   yes       arrival time at the source, microseconds
``src``        yes       source host (0-based)
``dst``        yes       destination host
``size``       yes       payload bytes (>= 1)
``tenant``     no        tenant number (default 0)
``deadline_us`` no       deadline relative to the start, microseconds
``priority``   no        priority class, 0 most urgent (default 0)
=============  ========  ==========================================

Errors name the file and the row: for CSV the line number in the file (the
header is line 1), for Parquet the 1-based row number.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DdclabError

REQUIRED = ["start_us", "src", "dst", "size"]
OPTIONAL = ["tenant", "deadline_us", "priority"]
INTEGER = {"src", "dst", "size", "tenant", "priority"}
# The largest value each column can take in the simulator: host, tenant and
# priority numbers are 32-bit; sizes stay exact in a float (2^53 bytes); times
# must fit 64-bit picoseconds (about 213 days).
LIMIT = {
    "src": 2**32 - 1,
    "dst": 2**32 - 1,
    "tenant": 2**32 - 1,
    "priority": 2**32 - 1,
    "size": 2**53,
    "start_us": 1.8e13,
    "deadline_us": 1.8e13,
}


def read_trace(path: str | Path) -> dict[str, list]:
    """Read and check a trace; returns columns ready for the simulator
    (plus ``row``: the row numbers errors should name)."""
    path = Path(path)
    if not path.exists():
        raise DdclabError(f"trace file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            first_row = 1
            unit = "row"
        elif suffix in (".csv", ".txt"):
            # index_col=False: a first row with more fields than the header
            # must not silently become an index that shifts every column;
            # pandas then warns that it drops the extra fields, which is an
            # error here.
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, index_col=False)
            first_row = 2  # line 1 is the header
            unit = "line"
        else:
            raise DdclabError(f"trace file {path}: unknown format {suffix!r} (use .csv or .parquet)")
    except DdclabError:
        raise
    except Exception as exc:  # pandas/pyarrow parse errors
        raise DdclabError(f"trace file {path}: cannot read it ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DdclabError(f"trace file {path}: missing column(s) {', '.join(missing)} (has: {', '.join(frame.columns)})")
    unknown = [c for c in frame.columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise DdclabError(f"trace file {path}: unknown column(s) {', '.join(unknown)} (allowed: {', '.join(REQUIRED + OPTIONAL)})")
    if len(frame) == 0:
        raise DdclabError(f"trace file {path}: no flows")
    columns: dict[str, list] = {}
    for name in [c for c in REQUIRED + OPTIONAL if c in frame.columns]:
        raw = frame[name]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna()
        if name == "deadline_us":
            # An empty deadline means "none".
            bad = bad & ~raw.astype(str).str.strip().isin(["", "nan", "None"])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DdclabError(f"trace file {path} {unit} {i + first_row}: {name} {raw.iloc[i]!r} is not a number")
        arr = values.to_numpy(dtype=float)
        present = ~np.isnan(arr)  # only deadlines may be absent
        huge = np.flatnonzero(present & ~(np.abs(arr) <= LIMIT[name]))
        if len(huge):
            i = int(huge[0])
            raise DdclabError(f"trace file {path} {unit} {i + first_row}: {name} {raw.iloc[i]!r} is out of range (at most {int(LIMIT[name])})")
        if name in INTEGER:
            frac = np.flatnonzero(arr != np.floor(arr))
            if len(frac):
                i = int(frac[0])
                raise DdclabError(f"trace file {path} {unit} {i + first_row}: {name} {raw.iloc[i]!r} must be a whole number")
            neg = np.flatnonzero(arr < 0)
            if len(neg):
                i = int(neg[0])
                raise DdclabError(f"trace file {path} {unit} {i + first_row}: {name} {raw.iloc[i]!r} must not be negative")
            columns[name] = arr.astype(np.int64).tolist()
        else:
            columns[name] = arr.tolist()
    size = np.asarray(columns["size"])
    zero = np.flatnonzero(size == 0)
    if len(zero):
        raise DdclabError(f"trace file {path} {unit} {int(zero[0]) + first_row}: size is 0 (flows must carry at least one byte)")
    start = np.asarray(columns["start_us"])
    neg = np.flatnonzero(start < 0)
    if len(neg):
        raise DdclabError(f"trace file {path} {unit} {int(neg[0]) + first_row}: start_us must not be negative")
    same = np.flatnonzero(np.asarray(columns["src"]) == np.asarray(columns["dst"]))
    if len(same):
        raise DdclabError(f"trace file {path} {unit} {int(same[0]) + first_row}: src and dst are the same host")
    columns["row"] = list(range(first_row, first_row + len(frame)))
    columns["row_unit"] = unit  # type: ignore[assignment]
    columns["file"] = str(path)  # type: ignore[assignment]
    return columns
