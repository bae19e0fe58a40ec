"""Comparison figures for many runs: grouped bars and lines, one series per ``hue``.

The reproduction commands and sweeps use these for "mean slowdown per protocol
per workload" (bars) and "metric vs load per protocol" (lines). They take a tidy
DataFrame - one row per (x, hue) with the value in column ``y`` - and keep the
order in which categories first appear (or the order given), so the same table
always gives the same figure and each series keeps its colour.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import DdclabError
from .plot import Plot
from .style import color, marker, new_figure, plain_log_ticks, style
from .values import floats


def _check_columns(df: pd.DataFrame, needed: dict[str, str | None], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DdclabError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    for role, col in needed.items():
        if col is not None and col not in df.columns:
            raise DdclabError(
                f"{what}: {role} column {col!r} not in the data (columns: {', '.join(map(str, df.columns))})"
            )


def _order(values: pd.Series, given: Sequence | None, role: str, what: str) -> list:
    present = list(dict.fromkeys(values.tolist()))
    if given is None:
        return present
    missing = [v for v in present if v not in list(given)]
    if missing:
        raise DdclabError(f"{what}: {role} values {missing!r} are not in the {role}_order given")
    return [v for v in given if v in present]


def _err_roles(err: str | tuple[str, str] | None) -> dict[str, str]:
    """The error-bar columns by role: none, one of half-widths, or (low, high)."""
    if err is None:
        return {}
    return {"err": err} if isinstance(err, str) else {"err low": err[0], "err high": err[1]}


def _yerr(part: pd.DataFrame, y: str, err: str | tuple[str, str] | None):
    """Error bars for matplotlib: a column of half-widths, or (low, high)
    columns of bounds turned into distances below and above the value."""
    if err is None:
        return None
    if isinstance(err, str):
        return floats(part[err])
    v = floats(part[y])
    return np.vstack([np.clip(v - floats(part[err[0]]), 0, None), np.clip(floats(part[err[1]]) - v, 0, None)])


def _tidy(df, x, hue, y, err, x_order, hue_order, what) -> tuple[pd.DataFrame, list, list]:
    _check_columns(df, {"x": x, "hue": hue, "y": y, **_err_roles(err)}, what)
    if df.empty:
        raise DdclabError(f"{what}: no rows to plot")
    keys = [x] if hue is None else [x, hue]
    if df.duplicated(keys).any():
        dup = df.loc[df.duplicated(keys, keep=False), keys].iloc[0].tolist()
        raise DdclabError(f"{what}: more than one row for {dict(zip(keys, dup))}; aggregate first")
    xs = _order(df[x], x_order, "x", what)
    hues = [None] if hue is None else _order(df[hue], hue_order, "hue", what)
    cols = keys + [y] + list(_err_roles(err).values())
    data = df[cols].copy()
    # Rows in plotting order: hue series by series, x within each.
    data["_x"] = data[x].map({v: i for i, v in enumerate(xs)})
    if hue is not None:
        data["_h"] = data[hue].map({v: i for i, v in enumerate(hues)})
        data = data.sort_values(["_h", "_x"], kind="stable").drop(columns=["_h"])
    else:
        data = data.sort_values(["_x"], kind="stable")
    return data.drop(columns=["_x"]).reset_index(drop=True), xs, hues


def _finish(ax, title: str, xlabel: str, ylabel: str, log_y: bool, legend: bool, hue: str | None):
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
    if legend:
        # Outside the axes, right of the plot: a legend never hides a bar or a point.
        ax.figure.legend(title=hue, loc="outside right upper")


def bar_chart(
    df: pd.DataFrame,
    x: str,
    hue: str | None,
    y: str,
    *,
    name: str,
    title: str = "",
    xlabel: str | None = None,
    ylabel: str | None = None,
    err: str | tuple[str, str] | None = None,
    x_order: Sequence | None = None,
    hue_order: Sequence | None = None,
    log_y: bool = False,
    caption: str = "",
    out_dir: str | os.PathLike | None = None,
) -> Plot:
    """Grouped bars: one group per ``x`` value, one bar per ``hue`` value.

    ``err`` names an optional column of error-bar half-widths, or a pair of
    columns (low, high) of the range around each value. With ``out_dir``
    the figure and its numbers are saved there at once (``NAME.png/.svg/.csv``).
    """
    what = f"bar chart {name!r}"
    data, xs, hues = _tidy(df, x, hue, y, err, x_order, hue_order, what)
    with style():
        fig = new_figure(max(6.4, 1.0 + 0.35 * len(xs) * len(hues)), 4.0)
        ax = fig.add_subplot()
        width = 0.8 / len(hues)
        positions = np.arange(len(xs), dtype=float)
        for i, h in enumerate(hues):
            part = data if h is None else data[data[hue] == h]
            idx = part[x].map({v: k for k, v in enumerate(xs)}).to_numpy()
            offset = (i - (len(hues) - 1) / 2) * width
            ax.bar(
                positions[idx] + offset,
                floats(part[y]),
                width,
                yerr=_yerr(part, y, err),
                label=None if h is None else str(h),
                color=color(i),
                capsize=2 if err else 0,
            )
        ax.set_xticks(positions, [str(v) for v in xs], rotation=30 if len(xs) > 6 else 0)
        ax.grid(axis="x", visible=False)
        title = title or f"{y} by {x}"
        _finish(ax, title, xlabel if xlabel is not None else x, ylabel if ylabel is not None else y,
                log_y, hue is not None, hue)
    plot = Plot(name, title, fig, data, caption)
    if out_dir is not None:
        plot.save(out_dir)
    return plot


def _dodged(xv: np.ndarray, all_x: np.ndarray, i: int, n: int, log_x: bool) -> np.ndarray:
    """Series i of n shifted a little sideways, so that error bars at the same
    x do not hide each other (the saved numbers keep the true x)."""
    if n < 2:
        return xv
    k = i - (n - 1) / 2
    if log_x:
        return xv * 10 ** (0.012 * k)
    span = float(np.nanmax(all_x) - np.nanmin(all_x))
    return xv + 0.008 * k * (span or 1.0)


def line_chart(
    df: pd.DataFrame,
    x: str,
    hue: str | None,
    y: str,
    *,
    name: str,
    title: str = "",
    xlabel: str | None = None,
    ylabel: str | None = None,
    err: str | tuple[str, str] | None = None,
    hue_order: Sequence | None = None,
    log_x: bool = False,
    log_y: bool = False,
    caption: str = "",
    out_dir: str | os.PathLike | None = None,
) -> Plot:
    """Lines of ``y`` against a numeric ``x`` (e.g. load), one line per ``hue`` value.

    Points are joined in increasing ``x``. ``err`` names an optional column of
    error-bar half-widths, or a pair of columns (low, high) of the range around
    each value; with error bars the series are drawn slightly apart sideways,
    so that bars at one x stay visible (the saved numbers keep the true x).
    With ``out_dir`` the figure and its numbers are saved.
    """
    what = f"line chart {name!r}"
    _check_columns(df, {"x": x}, what)
    if not pd.api.types.is_numeric_dtype(df[x]):
        raise DdclabError(f"{what}: x column {x!r} must be numeric; use bar_chart for categories")
    data, _xs, hues = _tidy(df.sort_values(x, kind="stable"), x, hue, y, err, None, hue_order, what)
    with style():
        fig = new_figure()
        ax = fig.add_subplot()
        for i, h in enumerate(hues):
            part = data if h is None else data[data[hue] == h]
            xv = _dodged(floats(part[x]), floats(data[x]), i, len(hues), log_x) if err is not None else floats(part[x])
            yv = floats(part[y])
            label = None if h is None else str(h)
            if err is None:
                ax.plot(xv, yv, marker=marker(i), color=color(i), label=label)
            else:
                ax.errorbar(xv, yv, yerr=_yerr(part, y, err), marker=marker(i),
                            color=color(i), label=label, capsize=2)
        if log_x:
            ax.set_xscale("log")
        title = title or f"{y} vs {x}"
        _finish(ax, title, xlabel if xlabel is not None else x, ylabel if ylabel is not None else y,
                log_y, hue is not None, hue)
    plot = Plot(name, title, fig, data, caption)
    if out_dir is not None:
        plot.save(out_dir)
    return plot
