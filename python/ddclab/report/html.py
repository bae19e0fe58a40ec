"""A self-contained HTML report: one file that opens anywhere, offline, forever.

The page has inline CSS, figures embedded as base64 PNG data URIs, and no
script, font or style sheet fetched from anywhere. It carries no timestamp, so
the same content gives a byte-identical file. Text is always escaped; callers
pass plain strings, never markup.
"""

from __future__ import annotations

import base64
import html
import math
import numbers
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .. import atomic
from .plot import Plot

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1b1b1b;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin-top: 1.6rem; }
.subtitle { color: #555; margin-top: 0; }
nav ul { columns: 2; padding-left: 1.2rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
caption { caption-side: top; text-align: left; color: #444; padding-bottom: 0.3rem; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 0.25rem 0.7rem; text-align: left; }
th { background: #f4f6f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.88rem; color: #444; }
.note { background: #f7f7f2; border-left: 4px solid #c9c38a; padding: 0.5rem 0.8rem; font-size: 0.9rem; }
pre { background: #f5f5f5; padding: 0.7rem; overflow-x: auto; font-size: 0.82rem; }
"""


def format_value(value: Any, digits: int = 4) -> str:
    """How a table cell shows a value: integers in full, other reals to ``digits``
    significant figures (one decimal from 1000 up), missing values as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isnan(x):
            return "–"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        if abs(x) >= 1000:
            return f"{x:.1f}"
        return f"{x:.{digits}g}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


class HtmlReport:
    """Build a report piece by piece, then :meth:`render` or :meth:`write` it."""

    def __init__(self, title: str, subtitle: str = "", *, toc: bool = True):
        self.title = title
        self.subtitle = subtitle
        self.toc = toc
        self._parts: list[str] = []
        self._sections: list[tuple[str, str]] = []  # (anchor, text) of level-2 headings
        self._anchors: set[str] = set()

    # --- building blocks ----------------------------------------------------------

    def heading(self, text: str, level: int = 2) -> "HtmlReport":
        level = min(max(int(level), 2), 4)  # h1 is the title
        anchor = base = _slug(text)
        n = 2
        while anchor in self._anchors:
            anchor = f"{base}-{n}"
            n += 1
        self._anchors.add(anchor)
        if level == 2:
            self._sections.append((anchor, text))
        self._parts.append(f'<h{level} id="{anchor}">{html.escape(text)}</h{level}>')
        return self

    def paragraph(self, text: str) -> "HtmlReport":
        self._parts.append(f"<p>{html.escape(text)}</p>")
        return self

    def note(self, text: str, title: str = "Note") -> "HtmlReport":
        """A highlighted aside, for method, provenance and caveats."""
        self._parts.append(
            f'<div class="note"><strong>{html.escape(title)}.</strong> {html.escape(text)}</div>'
        )
        return self

    def bullets(self, items: Iterable[str]) -> "HtmlReport":
        lis = "".join(f"<li>{html.escape(str(i))}</li>" for i in items)
        self._parts.append(f"<ul>{lis}</ul>")
        return self

    def preformatted(self, text: str) -> "HtmlReport":
        """Verbatim text such as a scenario file."""
        self._parts.append(f"<pre>{html.escape(text)}</pre>")
        return self

    def table(
        self,
        data: pd.DataFrame | Iterable[Mapping[str, Any]],
        caption: str = "",
        *,
        digits: int = 4,
        index: bool = False,
    ) -> "HtmlReport":
        """A table from a DataFrame or from rows given as dicts (columns in first-seen order)."""
        if isinstance(data, pd.DataFrame):
            frame = data.reset_index() if index else data
            columns = [str(c) for c in frame.columns]
            rows = [list(r) for r in frame.itertuples(index=False, name=None)]
        else:
            dict_rows = [dict(r) for r in data]
            columns = list(dict.fromkeys(k for r in dict_rows for k in r))
            rows = [[r.get(c) for c in columns] for r in dict_rows]
        out = ["<table>"]
        if caption:
            out.append(f"<caption>{html.escape(caption)}</caption>")
        out.append("<thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr></thead>")
        out.append("<tbody>")
        for row in rows:
            cells = []
            for v in row:
                cls = ' class="num"' if _is_number(v) else ""
                cells.append(f"<td{cls}>{html.escape(format_value(v, digits))}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        self._parts.append("".join(out))
        return self

    def key_values(self, mapping: Mapping[str, Any], caption: str = "", *, digits: int = 4) -> "HtmlReport":
        """A two-column table of names and values."""
        return self.table(
            [{"quantity": k, "value": v} for k, v in mapping.items()], caption, digits=digits
        )

    def image(self, png: bytes, alt: str, caption: str = "") -> "HtmlReport":
        """Embed PNG bytes as a data URI."""
        data = base64.b64encode(png).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(
            f'<figure><img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">{cap}</figure>'
        )
        return self

    def plot(self, plot: Plot, *, files_in: str | None = None) -> "HtmlReport":
        """Embed a :class:`~ddclab.report.plot.Plot` with its title and caption.

        ``files_in`` is the folder, relative to the page, where the plot was saved
        (e.g. ``"plots/"``); when given, the caption names its SVG and CSV files."""
        caption = plot.title + (". " + plot.caption if plot.caption else "")
        if files_in is not None:
            stem = f"{files_in}{plot.name}"
            caption += f" (Files: {stem}.png, {stem}.svg; the plotted numbers: {stem}.csv.)"
        return self.image(plot.png_bytes(), plot.title, caption)

    # --- output -------------------------------------------------------------------

    def render(self) -> str:
        head = (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        )
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        if self.subtitle:
            body.append(f'<p class="subtitle">{html.escape(self.subtitle)}</p>')
        if self.toc and len(self._sections) > 1:
            items = "".join(
                f'<li><a href="#{anchor}">{html.escape(text)}</a></li>' for anchor, text in self._sections
            )
            body.append(f"<nav><ul>{items}</ul></nav>")
        body.extend(self._parts)
        return head + "\n".join(body) + "\n</body>\n</html>\n"

    def write(self, target: str | os.PathLike) -> Path:
        """Write the page atomically; return its path."""
        target = Path(target)
        atomic.write_text(target, self.render())
        return target
