"""Run a program under the emulator: calibration, baseline and measured runs.

Each run gets a private temporary directory for the shim's counter and trace
files; it is removed however the run ends (including Ctrl-C), and the program's
exit status or terminating signal is reported unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import write_text
from ..errors import DdclabError
from . import paths, stats, trace

PAGE = 4096
SHIM_FAILED = 125
FCT_DIR = Path(__file__).resolve().parent / "fcts"


@dataclass
class Settings:
    local_pages: int | None = None  # None = unlimited
    latency_ns: int = 0
    bandwidth_bps: int = 0  # 0 = unlimited
    readahead: int = 8
    fct: str | None = None  # path of an FCT table
    spin: bool = False
    service_cpu: str = "auto"  # where the handler and evictor run: auto | none | N
    dirty_tracking: bool = True
    evict_batch: int = 32
    backend: str = "inproc"  # inproc | tcp | shm | tcp:HOST:PORT | shm:SOCKPATH
    #: all, or rest: the program may use every CPU but the service CPU
    program_cpus: str = "all"

    def placement(self) -> tuple[str, set[int] | None]:
        """(the shim's service CPU setting, the program's CPUs or None for
        no restriction). With `rest` the service CPU is made explicit: the
        shim's `auto` would otherwise pick among the program's CPUs."""
        if self.program_cpus == "all":
            return self.service_cpu, None
        allowed = sorted(os.sched_getaffinity(0))
        if self.spin or self.service_cpu == "none":
            raise DdclabError("--program-cpus rest keeps the program off the service CPU: it needs a service CPU "
                              "(--service-cpu auto or N) and a sleeping handler (no --spin)")
        svc = allowed[-1] if self.service_cpu == "auto" else int(self.service_cpu)
        rest = set(allowed) - {svc}
        if not rest:
            raise DdclabError(f"--program-cpus rest: this process may use only CPU {svc}, which the service threads take")
        return str(svc), rest

    def preexec(self):
        """For Popen: confine the program to its CPUs (None: no restriction)."""
        cpus = self.placement()[1]
        return None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))

    def env(self) -> dict[str, str]:
        e = {
            "DDCLAB_MEMU": "1",
            "DDCLAB_MEMU_LATENCY_NS": str(self.latency_ns),
            "DDCLAB_MEMU_BANDWIDTH_BPS": str(self.bandwidth_bps),
            "DDCLAB_MEMU_READAHEAD": str(self.readahead),
            "DDCLAB_MEMU_SPIN": "1" if self.spin else "0",
            "DDCLAB_MEMU_SERVICE_CPU": self.placement()[0],
            "DDCLAB_MEMU_DIRTY": "1" if self.dirty_tracking else "0",
            "DDCLAB_MEMU_EVICT_BATCH": str(self.evict_batch),
            "DDCLAB_MEMU_LOCAL_PAGES": "unlimited" if self.local_pages is None else str(self.local_pages),
            "DDCLAB_MEMU_FCT": self.fct or "",
            "DDCLAB_MEMU_BACKEND": self.backend,
        }
        return e

    def zero_delay(self) -> "Settings":
        d = Settings(**asdict(self))
        d.latency_ns, d.bandwidth_bps, d.fct = 0, 0, None
        return d


@dataclass
class RunResult:
    runtime_s: float
    returncode: int  # negative: killed by that signal (subprocess convention)
    summary: stats.Summary
    trace_rows: int | None = None
    trace_dropped: int = 0
    settings: dict = field(default_factory=dict)

    def status_text(self) -> str:
        if self.returncode < 0:
            try:
                return f"killed by {signal.Signals(-self.returncode).name}"
            except ValueError:
                return f"killed by signal {-self.returncode}"
        return f"exit {self.returncode}"


def resolve_fct(spec: str) -> str:
    """A table path, or NAME like '40g/tm/memcached' for the bundled tables."""
    p = Path(spec)
    if p.is_file():
        return str(p.resolve())
    parts = spec.split("/")
    if len(parts) == 3:
        rate, place, app = parts
        cand = FCT_DIR / rate / f"fcts_{place}_pfabric_{app}.txt"
        if cand.is_file():
            return str(cand)
    names = sorted(
        f"{d.name}/{f.stem.split('_')[1]}/{f.stem.split('_', 3)[3]}" for d in FCT_DIR.iterdir() if d.is_dir() for f in d.glob("*.txt")
    )
    raise DdclabError(f"--fct {spec!r}: no such file or bundled table (bundled: {', '.join(names[:4])}, ...)")


def resolve_program(argv: list[str]) -> list[str]:
    if not argv:
        raise DdclabError("no program given: use `ddclab emu run [OPTIONS] -- PROGRAM [ARGS]...`")
    prog = argv[0]
    if "/" in prog:
        if not Path(prog).is_file():
            raise DdclabError(f"program not found: {prog}")
        if not os.access(prog, os.X_OK):
            raise DdclabError(f"program is not executable: {prog}")
        return [str(Path(prog).resolve())] + argv[1:]
    found = shutil.which(prog)
    if found is None:
        raise DdclabError(f"program not found on PATH: {prog}")
    return [found] + argv[1:]


def check_service_cpu(spec: str) -> str:
    """auto, none, or a CPU this process may run on."""
    if spec in ("auto", "none"):
        return spec
    allowed = sorted(os.sched_getaffinity(0))
    if spec.isdigit() and int(spec) in allowed:
        return str(int(spec))
    raise DdclabError(f"--service-cpu {spec!r}: expected auto, none or one of the CPUs this process may use "
                      f"({', '.join(map(str, allowed))})")


def check_program_cpus(spec: str) -> str:
    if spec in ("all", "rest"):
        return spec
    raise DdclabError(f"--program-cpus {spec!r}: expected all or rest")


def check_backend(spec: str) -> str:
    if spec in ("inproc", "tcp", "shm") or (spec.startswith("tcp:") and ":" in spec[4:]) or (spec.startswith("shm:") and len(spec) > 4):
        return spec
    raise DdclabError(f"--backend {spec!r}: expected inproc, tcp, shm, tcp:HOST:PORT or shm:SOCKPATH")


class Blade:
    """A memu-blade server: started for one run (`--backend tcp` or `shm`,
    see `own_blade`) or by `ddclab emu blade`.

    Its standard input is a pipe from us: if we die, it sees EOF and exits."""

    def __init__(self, kind: str, addr: str):
        self.proc = subprocess.Popen([str(paths.tool(paths.BLADE)), kind, addr], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "listening":
            err = self._stderr()
            self.close()
            raise DdclabError(f"the memory blade did not start: {err or 'no output'}")
        self.spec = f"{kind}:{line[1]}"

    def wait(self) -> tuple[int, str]:
        """Until the server exits: its exit code and what it printed on stderr."""
        rc = self.proc.wait()
        return rc, self._stderr()

    def _stderr(self) -> str:
        """What the server printed on stderr, without its own "error: "."""
        return self.proc.stderr.read().strip().removeprefix("error: ")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f:
                f.close()


def own_blade(backend: str, tmp: Path, env: dict) -> Blade | None:
    """For `--backend tcp` or `shm`: start a blade on loopback (or a socket in
    `tmp`) and point the shim at it through `env`. Other backends: None."""
    if backend not in ("tcp", "shm"):
        return None
    blade = Blade(backend, "127.0.0.1:0" if backend == "tcp" else str(tmp / "blade.sock"))
    env["DDCLAB_MEMU_BACKEND"] = blade.spec
    return blade


class Terminated(SystemExit):
    """SIGTERM (or SIGHUP) arrived while a program ran under the emulator:
    raised from the signal handler so the clean-up below runs (Python's
    default action would exit at once and leave the program orphaned)."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


def _raise_terminated(signum, _frame):
    raise Terminated(signum)


def run_once(argv: list[str], settings: Settings, trace_out: Path | None = None, quiet: bool = False) -> RunResult:
    shim = paths.shim()
    tmp = Path(tempfile.mkdtemp(prefix="ddclab-emu-"))
    proc = None
    blade = None
    old_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) == signal.SIG_DFL:
                old_handlers[sig] = signal.signal(sig, _raise_terminated)
    term_sig = None
    try:
        (tmp / "stats").mkdir()
        env = dict(os.environ)
        env.update(settings.env())
        blade = own_blade(settings.backend, tmp, env)
        env["DDCLAB_MEMU_STATS_DIR"] = str(tmp / "stats")
        if trace_out is not None:
            (tmp / "trace").mkdir()
            env["DDCLAB_MEMU_TRACE_DIR"] = str(tmp / "trace")
        env["LD_PRELOAD"] = f"{shim} {env['LD_PRELOAD']}" if env.get("LD_PRELOAD") else str(shim)
        out = subprocess.DEVNULL if quiet else None
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out, preexec_fn=settings.preexec())
        except OSError as exc:
            raise DdclabError(f"cannot start {argv[0]}: {exc.strerror}") from None
        rc = proc.wait()
        runtime = time.monotonic() - t0
        procs = stats.read_dir(tmp / "stats")
        if not procs:
            if rc == SHIM_FAILED:
                raise DdclabError("the emulator could not start (its message is above)")
            raise DdclabError(f"{argv[0]} ran without the emulator (is it statically linked?)")
        summary = stats.summarize(procs, proc.pid)
        res = RunResult(runtime_s=runtime, returncode=rc, summary=summary, settings=asdict(settings))
        if trace_out is not None:
            res.trace_rows, res.trace_dropped = trace.write_parquet(tmp / "trace", trace_out)
        return res
    except Terminated as exc:
        term_sig = exc.signum
        raise
    finally:
        for sig in old_handlers:
            signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut the clean-up short
        if proc is not None and proc.poll() is None:
            # Interrupted. On Ctrl-C the program got the same SIGINT from the
            # terminal; on SIGTERM/SIGHUP (sent to this process only) pass it
            # on. Give it a moment to exit on its own, then make sure it is
            # gone: never leave it running without us.
            if term_sig is not None:
                try:
                    proc.send_signal(term_sig)
                except OSError:
                    pass
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if blade is not None:
            blade.close()
        shutil.rmtree(tmp, ignore_errors=True)
        for sig, h in old_handlers.items():
            signal.signal(sig, h)


# ---------------------------------------------------------------- calibration

def _cache_file() -> Path:
    base = os.environ.get("DDCLAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ddclab"
    )
    return Path(base) / "emu-calibration.json"


def _cache_key(argv: list[str]) -> str:
    st = os.stat(argv[0])
    ident = [argv, os.getcwd(), st.st_size, st.st_mtime_ns]
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()


def calibrate(argv: list[str], settings: Settings, refresh: bool = False) -> tuple[int, bool]:
    """Peak anonymous resident pages of an unlimited, zero-delay run.

    Cached per command line (program path, size and mtime, arguments, working
    directory). Returns (pages, from_cache)."""
    cache = _cache_file()
    key = _cache_key(argv)
    data: dict = {}
    if cache.is_file():
        try:
            data = json.loads(cache.read_text())
        except (OSError, ValueError):
            data = {}
    if not refresh and key in data:
        return int(data[key]["peak_pages"]), True
    s = Settings(**asdict(settings))
    s.local_pages, s.latency_ns, s.bandwidth_bps, s.fct = None, 0, 0, None
    res = run_once(argv, s, quiet=True)
    if res.returncode < 0:
        # Any exit code is a complete run; a signal is not.
        raise DdclabError(f"calibration run of {argv[0]} failed ({res.status_text()})")
    peak = res.summary.root_peak_pages
    if peak <= 0:
        raise DdclabError(f"calibration run of {argv[0]} used no emulated memory")
    data[key] = {"argv": argv, "peak_pages": peak, "runtime_s": res.runtime_s}
    write_text(cache, json.dumps(data, indent=1))
    return peak, False


def pages_for_percent(peak_pages: int, pct: float) -> int | None:
    """Local pages for `pct`% of a calibrated peak; None (no limit) at 100%:
    all of the program's memory is local then, even where this run's peak
    exceeds the calibration's by a few pages (as Redis's does by up to 1%), so
    nothing thrashes on a sliver the calibration missed."""
    if pct >= 100:
        return None
    return max(1, math.ceil(peak_pages * pct / 100.0))
