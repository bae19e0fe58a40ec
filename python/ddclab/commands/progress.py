"""Progress of long commands: a bar (rich) on a terminal, plain lines elsewhere.

Off a terminal (a log file, nohup, CI) a bar would be noise or nothing, and a
30-minute reproduction that says nothing until it ends cannot be told from a
hung one. There a line ``label: done/total, elapsed`` is written at most every
``every_s`` seconds, and once at the end.
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Bar:
    def __init__(self, label: str, total: int, every_s: float = 60.0):
        self.label = label
        self.every_s = every_s
        self.start = time.monotonic()
        self.last_line = self.start
        self.bar = None
        self.task = None
        if not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.bar.start()
        self.task = self.bar.add_task(label, total=total)

    def update(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)
            return
        now = time.monotonic()
        if done >= total or now - self.last_line >= self.every_s:
            self.last_line = now
            print(f"{self.label}: {done}/{total}, {_clock(now - self.start)} elapsed", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
