"""Columns to numpy arrays, whatever backs them.

Flows may come straight from ``flows.parquet`` with Arrow-backed or nullable
pandas dtypes, where a missing value is ``pd.NA`` and a plain
``to_numpy(dtype=float)`` fails. Figures want float arrays with NaN for missing
values and boolean masks with missing read as False; these two functions are the
one place that conversion happens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def floats(series: pd.Series) -> np.ndarray:
    """Float64 values; missing or non-numeric entries become NaN."""
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def flags(series: pd.Series) -> np.ndarray:
    """Boolean values; missing entries become False."""
    return series.astype("boolean").fillna(False).to_numpy(dtype=bool)
