"""Run one app once under the emulator and measure it.

Program apps go through :func:`ddclab.emu.runner.run_once`. Server apps are run
here: only the server gets the emulator's LD_PRELOAD; the client (load
generator) runs un-emulated, because the study's remote memory belonged to the
server, and an emulated client would slow its own requests too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..emu import paths, runner, stats
from ..errors import DdclabError
from .base import App

READY_TIMEOUT_S = 10.0
START_ATTEMPTS = 3
CLIENT_TIMEOUT_S = 3600.0


class RunTimedOut(DdclabError):
    """A run killed at its time limit: a result of the run (thrashing or hung
    at this much local memory), not an accident of this attempt."""


@dataclass
class Measurement:
    seconds: float  # the metric's time: program wall time, or the timed client's
    ops_per_s: float | None
    remote_faults: int
    pages_fetched: int
    pages_written_back: int
    stall_ms: float
    overhead_median_us: float | None  # emulator's handler cost per remote fault
    peak_pages: int  # root (or server) process's peak resident emulated pages
    injected_ms: float  # network delay injected into remote reads, summed over threads

    def to_dict(self) -> dict:
        return asdict(self)


def _summary_fields(s: stats.Summary) -> dict:
    t = s.totals
    return dict(
        remote_faults=t["remote_faults"],
        pages_fetched=t["pages_fetched"],
        pages_written_back=t["pages_written_back"],
        stall_ms=t["stall_ns"] / 1e6,
        injected_ms=t["injected_ns"] / 1e6,
        overhead_median_us=None if s.overhead_median_ns is None else s.overhead_median_ns / 1000.0,
        peak_pages=s.root_peak_pages,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(proc: subprocess.Popen, port: int, name: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DdclabError(f"{name} exited ({proc.returncode}) before listening: {log.read_text(errors='replace').strip()[-300:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise DdclabError(f"{name} did not listen on port {port} within {READY_TIMEOUT_S:.0f} s")


def _client_env() -> dict:
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("DDCLAB_MEMU"):
            del env[k]
    env.pop("LD_PRELOAD", None)
    return env


def _descendants(root: int) -> list[int]:
    """Process ids below ``root`` (from /proc; children before grandchildren)."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            parent[int(d)] = int(stat[stat.rfind(")") + 2:].split()[1])
    out, frontier = [], [root]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier and p not in out]
        out += kids
        frontier = kids
    return out


class _Watchdog:
    """Kill the programs this process started if a run outlives ``timeout_s``.

    :func:`ddclab.emu.runner.run_once` waits for its program without a time
    limit; a program that hangs under the emulator (or thrashes for hours)
    would stall the whole suite. Runs go one at a time, so every descendant of
    this process during a run belongs to the run: they are killed by pid."""

    def __init__(self, timeout_s: float | None):
        self.timeout_s = timeout_s
        self.fired = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True) if timeout_s else None

    def _watch(self) -> None:
        if self._done.wait(self.timeout_s):
            return
        self.fired = True
        for pid in _descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def __enter__(self) -> "_Watchdog":
        if self._thread:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread:
            self._thread.join()


def run(app: App, scale: str, settings: runner.Settings, client_timeout_s: float = CLIENT_TIMEOUT_S) -> Measurement:
    """One measured run. Program apps are killed (and the run fails with "did
    not finish") after ``client_timeout_s``; server apps' timed clients too."""
    if app.server is None:
        argv = app.command(scale)
        hung = RunTimedOut(f"{app.name} did not finish in {client_timeout_s:.0f} s under the emulator (killed; thrashing or hung)")
        with _Watchdog(client_timeout_s) as dog:
            try:
                res = runner.run_once(argv, settings, quiet=True)
            except DdclabError:
                if dog.fired:  # killed before it wrote its counters
                    raise hung from None
                raise
        if dog.fired:
            raise hung
        if res.returncode != 0:
            raise DdclabError(f"{app.name} failed under the emulator ({res.status_text()}): {' '.join(argv)}")
        return Measurement(seconds=res.runtime_s, ops_per_s=None, **_summary_fields(res.summary))
    return _run_server(app, scale, settings, client_timeout_s)


def _run_server(app: App, scale: str, settings: runner.Settings, client_timeout_s: float) -> Measurement:
    srv = app.server(scale)
    tmp = Path(tempfile.mkdtemp(prefix="ddclab-app-"))
    proc = None
    try:
        (tmp / "stats").mkdir()
        port = free_port()
        env = dict(os.environ)
        env.update(settings.env())
        env["DDCLAB_MEMU_STATS_DIR"] = str(tmp / "stats")
        shim = str(paths.shim())
        env["LD_PRELOAD"] = f"{shim} {env['LD_PRELOAD']}" if env.get("LD_PRELOAD") else shim
        log = tmp / "server.log"
        for attempt in range(START_ATTEMPTS):
            # A start-up that hangs is retried: the emulator can deadlock while a
            # server's threads start (docs/notes-for-emu.md); such a start is
            # discarded before anything is measured, so it biases nothing.
            shutil.rmtree(tmp / "stats")
            (tmp / "stats").mkdir()
            with open(log, "wb") as lf:
                proc = subprocess.Popen(srv.argv(port), env=env, stdout=lf, stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=settings.preexec())
            try:
                _wait_ready(proc, port, app.name, log)
                break
            except DdclabError:
                if proc.poll() is not None or attempt == START_ATTEMPTS - 1:
                    raise
                proc.kill()
                proc.wait()
        cenv = _client_env()

        def client(cmd: list[str], what: str) -> subprocess.CompletedProcess:
            try:
                r = subprocess.run(cmd, env=cenv, capture_output=True, text=True, timeout=client_timeout_s)
            except subprocess.TimeoutExpired:
                raise RunTimedOut(f"{app.name}: {what} did not finish in {client_timeout_s:.0f} s (server hung under the emulator?)") from None
            if r.returncode != 0:
                raise DdclabError(f"{app.name}: {what} failed ({Path(cmd[0]).name} exit {r.returncode}): {(r.stderr or r.stdout).strip()[-200:]}")
            return r

        for cmd in srv.prepare(port):
            client(cmd, "loading data")
        # The counters, like the time, cover the timed phase only.
        loaded = stats.read_dir(tmp / "stats")
        t0 = time.monotonic()
        r = client(srv.client(port), "the timed client")
        seconds = time.monotonic() - t0
        extra = srv.parse(r.stdout)
        if proc.poll() is not None:
            raise DdclabError(f"{app.name}: the server died during the run ({proc.returncode})")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        procs = stats.read_dir(tmp / "stats")
        if not procs:
            raise DdclabError(f"{app.name}: the server ran without the emulator (no counters written)")
        return Measurement(seconds=seconds, ops_per_s=extra.get("ops_per_s"),
                           **_summary_fields(stats.summarize(stats.since(loaded, procs), proc.pid)))
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
