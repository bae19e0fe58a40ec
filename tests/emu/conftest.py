"""Fixtures of the emulator tests: the built shim and a C test program.

The shim must have been built (`make build`, which `make test` runs first);
a missing build fails the tests rather than skipping them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))

from ddclab.emu import paths  # noqa: E402


@pytest.fixture(scope="session")
def memu_dir() -> Path:
    return paths.memu_dir()  # raises with "run make build" if missing


@pytest.fixture(scope="session")
def memtest(tmp_path_factory) -> Path:
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "the emulator tests need gcc to build their test program"
    out = tmp_path_factory.mktemp("bin") / "memtest"
    subprocess.run([gcc, "-O2", "-pthread", "-o", str(out), str(Path(__file__).parent / "memtest.c")], check=True)
    return out


@pytest.fixture()
def cli_env(tmp_path, memu_dir) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["DDCLAB_MEMU_DIR"] = str(memu_dir)
    env["DDCLAB_CACHE_DIR"] = str(tmp_path / "cache")
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    return env


def run_cli(args, env, timeout=120, **kw):
    return subprocess.run([sys.executable, "-m", "ddclab", *args], env=env, capture_output=True, text=True, timeout=timeout, **kw)


def run_under_shim(argv, local_pages: str, stats_dir: Path, timeout_s: float, extra_env: dict | None = None):
    """Run `argv` with the shim preloaded (no `ddclab emu run` in between);
    a run that outlives `timeout_s` is killed with its process group and fails
    the test. Returns (exit code, stdout, stderr)."""
    env = dict(os.environ, DDCLAB_MEMU="1", DDCLAB_MEMU_STATS_DIR=str(stats_dir), DDCLAB_MEMU_LOCAL_PAGES=local_pages,
               LD_PRELOAD=str(paths.shim()), **(extra_env or {}))
    proc = subprocess.Popen([str(a) for a in argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{' '.join(map(str, argv))} hung under the emulator ({local_pages} local pages): killed after {timeout_s:.0f} s")
    return proc.returncode, out, err
