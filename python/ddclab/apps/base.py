"""What an application of the suite is, and how its helper programs are built.

An app is either a *program* (run to completion under the emulator; its
metric is the run's wall time) or a *server* (the server runs under the
emulator, an un-emulated client drives it; the metric is the client's time for
a fixed number of operations, i.e. 1/throughput). Either way a larger number
is worse, so degradation is ``time / time at zero injected delay - 1``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import DdclabError

REPO = Path(__file__).resolve().parents[3]
SOURCES = REPO / "apps"
SCALES = ("tiny", "small", "paper")


def cache_dir() -> Path:
    base = os.environ.get("DDCLAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ddclab"
    )
    return Path(base) / "apps"


def build_c(rel_source: str, name: str, libs: tuple[str, ...] = ("-lm",)) -> Path:
    """Compile apps/<rel_source> once per source content (idempotent: the
    binary's name carries the source hash, so an edit rebuilds)."""
    src = SOURCES / rel_source
    if not src.is_file():
        raise DdclabError(f"{name}: source {src} is missing (ddclab must run from its repository)")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    out = cache_dir() / "bin" / f"{name}-{digest}"
    if out.is_file():
        return out
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise DdclabError(f"{name}: no C compiler (install gcc: apt-get install -y gcc)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    r = subprocess.run([cc, "-O2", "-pthread", "-o", str(tmp), str(src), *libs], capture_output=True, text=True)
    if r.returncode != 0:
        raise DdclabError(f"{name}: compiling {src.name} failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else 'no message'}")
    tmp.rename(out)
    return out


def apt_install(packages: list[str], binaries: list[str], what: str) -> None:
    """Install Debian packages unless their binaries are already there."""
    if all(shutil.which(b) for b in binaries):
        return
    if shutil.which("apt-get") is None:
        raise DdclabError(f"{what}: {', '.join(binaries)} not found and there is no apt-get; install {' '.join(packages)} yourself")
    if os.geteuid() != 0:
        raise DdclabError(f"{what}: {', '.join(binaries)} not found; run as root or: sudo apt-get install -y {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        # The package lists may be missing on a fresh container: refresh once.
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True)
        r = subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env, capture_output=True, text=True)
    if r.returncode != 0 or not all(shutil.which(b) for b in binaries):
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise DdclabError(f"{what}: apt-get install {' '.join(packages)} failed: {last}")


@dataclass
class Server:
    """How to run a server app: argv builders take the port."""

    argv: Callable[[int], list[str]]
    #: un-emulated commands run before the timed one (loading data)
    prepare: Callable[[int], list[list[str]]]
    #: the timed client command
    client: Callable[[int], list[str]]
    #: parse the client's stdout into extra metrics (e.g. ops/s); may raise
    parse: Callable[[str], dict] = field(default=lambda out: {})


@dataclass
class App:
    name: str
    title: str
    #: "runtime" (program wall time) or "throughput" (client time for a fixed
    #: number of operations; ops/s reported beside it)
    metric: str
    #: how the study's dataset or setup is replaced here, and why
    substitution: str
    install: Callable[[], None]
    #: None if the app can run now, else the one-line reason it cannot
    unavailable: Callable[[], str | None]
    #: one thread doing the work: the suite keeps it off the emulator's
    #: service CPU (`--program-cpus rest`), which only helps such a program
    single_threaded: bool = False
    command: Callable[[str], list[str]] | None = None  # program apps
    server: Callable[[str], Server] | None = None  # server apps
    #: does it need heavy set-up (not run by default at small scale)?
    heavy: bool = False

    @property
    def kind(self) -> str:
        return "server" if self.server is not None else "program"

    def check_scale(self, scale: str) -> None:
        if scale not in SCALES:
            raise DdclabError(f"--scale {scale!r}: expected one of {', '.join(SCALES)}")
