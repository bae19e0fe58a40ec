"""Real programs that used to hang or crash under the emulator
(docs/notes-for-emu.md). Each is skipped, with the reason, when the program is
not installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ddclab.emu import paths, stats


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _start(argv, port, stats_dir: Path, local_pages: str, timeout_s: float = 10.0):
    env = dict(os.environ, DDCLAB_MEMU="1", DDCLAB_MEMU_STATS_DIR=str(stats_dir), DDCLAB_MEMU_LOCAL_PAGES=local_pages,
               LD_PRELOAD=str(paths.shim()))
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return proc, False
        if _listening(port):
            return proc, True
        time.sleep(0.05)
    return proc, False


def _stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@pytest.mark.skipif(shutil.which("memcached") is None, reason="memcached is not installed (apt-get install -y memcached)")
def test_memcached_with_worker_threads_starts(memu_dir, tmp_path):
    """memcached -t 4 used to deadlock at start-up in most attempts: a worker's
    malloc hook rescanned /proc/self/maps with the emulator's lock held and
    faulted on its own (emulated) thread stack. Thread stacks are now left
    local, so every start-up listens."""
    for i in range(3):
        port = _free_port()
        d = tmp_path / f"st{i}"
        d.mkdir()
        argv = [shutil.which("memcached"), "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", "4", "-m", "64"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        proc, ok = _start(argv, port, d, "300")
        try:
            assert ok, f"start-up {i + 1}/3 did not listen within 10 s (exit {proc.returncode})"
        finally:
            _stop(proc)
        assert stats.read_dir(d), "memcached ran without the emulator"


@pytest.mark.skipif(shutil.which("memcached") is None, reason="memcached is not installed (apt-get install -y memcached)")
def test_memcached_two_workers_at_a_tiny_budget_completes(memu_dir, tmp_path):
    """The repro of docs/notes-for-emu.md item 3: memcached -t 2 with 99 local
    pages under a YCSB-style load used to hang in the run phase (an eviction
    the kernel misreported as EEXIST left a page recorded local while it sat
    in the store; its faults were answered with a bare wake, forever)."""
    from ddclab.apps.memcached import ycsbgen

    gen = str(ycsbgen())
    for i in range(2):
        port = _free_port()
        d = tmp_path / f"st{i}"
        d.mkdir()
        argv = [shutil.which("memcached"), "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", "2", "-m", "64"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        proc, ok = _start(argv, port, d, "99")
        try:
            assert ok, f"start-up {i + 1} did not listen within 10 s (exit {proc.returncode})"
            for phase in (["load", "a", "2000", "0", "1000", "1", "1"], ["run", "a", "2000", "4000", "1000", "1", "2"]):
                try:
                    r = subprocess.run([gen, "127.0.0.1", str(port), *phase], capture_output=True, text=True, timeout=60)
                except subprocess.TimeoutExpired:
                    pytest.fail(f"try {i + 1}: ycsbgen {phase[0]} phase hung (no reply within 60 s)")
                assert r.returncode == 0 and "OK phase=" in r.stdout, (phase[0], r.stdout, r.stderr)
                assert "misses=0" in r.stdout, r.stdout
        finally:
            _stop(proc)
        t = stats.summarize(stats.read_dir(d), proc.pid).totals
        assert t["pages_evicted"] > 1000 and t["remote_faults"] > 1000, t
