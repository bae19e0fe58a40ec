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


def _memcached_argv(port: int, threads: int) -> list[str]:
    """memcached on loopback, UDP off, 64 MiB of items."""
    argv = [shutil.which("memcached"), "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", str(threads), "-m", "64"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    return argv


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
        argv = _memcached_argv(port, threads=4)
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
        argv = _memcached_argv(port, threads=2)
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


def _jemtest(tmp_path) -> Path | None:
    gcc = shutil.which("gcc") or shutil.which("cc")
    out = tmp_path / "jemtest"
    r = subprocess.run([gcc, "-O2", "-pthread", "-o", str(out), str(Path(__file__).parent / "jemtest.c"), "-ljemalloc"],
                       capture_output=True, text=True)
    return out if r.returncode == 0 else None


def test_program_linking_jemalloc_keeps_its_allocator(memu_dir, tmp_path):
    """The shim's malloc/calloc/realloc used to forward to glibc's
    __libc_malloc, so a program linking jemalloc got glibc chunks and handed
    them to jemalloc's free (Redis crashed at start-up). jemtest checks, via
    jemalloc's own per-thread counter, that every block comes from jemalloc,
    and round-trips data through blocks of 8 B to 2 MiB under eviction."""
    exe = _jemtest(tmp_path)
    if exe is None:
        pytest.skip("jemalloc's development files are not installed (apt-get install -y libjemalloc-dev)")
    d = tmp_path / "st"
    d.mkdir()
    env = dict(os.environ, DDCLAB_MEMU="1", DDCLAB_MEMU_STATS_DIR=str(d), DDCLAB_MEMU_LOCAL_PAGES="256",
               LD_PRELOAD=str(paths.shim()))
    r = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "OK jemalloc" in r.stdout, f"exit {r.returncode} (3 = wrong allocator or data mismatch): {r.stderr[-500:]}"
    t = stats.summarize(stats.read_dir(d), 0).totals
    assert t["pages_evicted"] > 1000 and t["remote_faults"] > 100, t


def _redis_cli(port: int, *args: str, stdin: str | None = None) -> str:
    r = subprocess.run([shutil.which("redis-cli"), "-p", str(port), *args], input=stdin, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.skipif(shutil.which("redis-server") is None or shutil.which("redis-benchmark") is None,
                    reason="redis is not installed (apt-get install -y redis-server)")
def test_redis_runs_with_a_quarter_of_its_memory(memu_dir, tmp_path):
    """Debian's redis-server links jemalloc (it crashed at start-up, see the
    test above). It now serves a redis-benchmark run with 700 local pages
    (about a quarter of its peak under this load), and a value written before
    the run reads back intact after it."""
    port = _free_port()
    d = tmp_path / "st"
    d.mkdir()
    argv = [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc, ok = _start(argv, port, d, "700")
    try:
        assert ok, f"redis-server did not listen within 10 s (exit {proc.returncode}): {proc.stderr.read()[-500:] if proc.poll() is not None else ''}"
        value = "".join(f"{i:06d}" for i in range(20_000))  # 120 kB
        _redis_cli(port, "-x", "set", "probe", stdin=value)
        r = subprocess.run([shutil.which("redis-benchmark"), "-p", str(port), "-q", "-n", "20000", "-t", "set,get",
                            "-d", "1000", "-r", "10000"], capture_output=True, text=True, timeout=240)
        assert r.returncode == 0 and "GET" in r.stdout, r.stdout[-500:] + r.stderr[-500:]
        assert _redis_cli(port, "get", "probe").rstrip("\n") == value
        assert int(_redis_cli(port, "dbsize")) > 1000
    finally:
        _stop(proc)
    t = stats.summarize(stats.read_dir(d), proc.pid).totals
    assert t["pages_evicted"] > 1000 and t["remote_faults"] > 1000, t
