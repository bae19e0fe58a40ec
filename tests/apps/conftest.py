"""Fixtures of the application-suite tests: the built emulator, an isolated
cache (calibrations and compiled helpers), and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))

from ddclab.emu import paths  # noqa: E402


@pytest.fixture(scope="session")
def memu_dir() -> Path:
    return paths.memu_dir()  # raises "run make build" if the shim is missing


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    d = tmp_path_factory.mktemp("cache")
    old = os.environ.get("DDCLAB_CACHE_DIR")
    os.environ["DDCLAB_CACHE_DIR"] = str(d)
    yield d
    if old is None:
        os.environ.pop("DDCLAB_CACHE_DIR", None)
    else:
        os.environ["DDCLAB_CACHE_DIR"] = old


@pytest.fixture()
def cli_env(memu_dir, isolated_cache) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["DDCLAB_MEMU_DIR"] = str(memu_dir)
    env["DDCLAB_CACHE_DIR"] = str(isolated_cache)
    return env


def run_cli(args, env, timeout=300):
    return subprocess.run([sys.executable, "-m", "ddclab", *args], env=env, capture_output=True, text=True, timeout=timeout)
