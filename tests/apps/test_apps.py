"""The application registry and its helper programs."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from conftest import run_cli
from ddclab import apps
from ddclab.apps import memcached, memkernel
from ddclab.apps.emulate import free_port, run as run_app
from ddclab.emu.runner import Settings
from ddclab.errors import DdclabError


def test_registry_is_complete():
    assert {"kernel-rand", "kernel-hashjoin", "memcached-a", "memcached-b", "redis"} <= set(apps.names())
    for name in apps.names():
        a = apps.get(name)
        assert a.metric in ("runtime", "throughput"), name
        assert len(a.substitution) > 20, f"{name} must say how the study's data is replaced"
        assert (a.command is None) != (a.server is None), f"{name} must be a program or a server"


def test_unknown_app_is_a_one_line_error():
    with pytest.raises(DdclabError, match="--apps: unknown app 'nope'"):
        apps.get("nope")


def _checksum(out: str) -> str:
    m = re.search(r"OK \w+ checksum=([0-9a-f]+)", out)
    assert m, out
    return m.group(1)


@pytest.mark.parametrize("mode", ["rand", "hashjoin"])
def test_memkernel_same_result_under_the_emulator(mode, cli_env):
    """The kernels are deterministic, and the emulator (25% local: most pages
    go remote and come back) must not change what they compute."""
    argv = memkernel.RAND.command("tiny") if mode == "rand" else memkernel.HASHJOIN.command("tiny")
    plain = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    again = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert _checksum(plain) == _checksum(again)
    r = run_cli(["emu", "run", "--local", "25%", "--no-baseline", "--", *argv], cli_env)
    assert r.returncode == 0, r.stderr
    assert _checksum(r.stdout) == _checksum(plain)
    faults = re.search(r"remote faults\s+(\d+)", r.stdout)
    assert faults and int(faults.group(1)) > 0, "25% local memory must cause remote faults"


def test_memkernel_measurement_counts_remote_traffic():
    app = apps.get("kernel-rand")
    full = run_app(app, "tiny", Settings(local_pages=None))
    assert full.remote_faults == 0 and full.peak_pages > 1000  # 8 MiB array
    quarter = run_app(app, "tiny", Settings(local_pages=full.peak_pages // 4))
    assert quarter.remote_faults > 100 and quarter.pages_fetched >= quarter.remote_faults


needs_memcached = pytest.mark.skipif(shutil.which("memcached") is None,
                                     reason="memcached not installed (apt-get install -y memcached)")


@needs_memcached
@pytest.mark.parametrize("workload", ["a", "b"])
def test_ycsbgen_against_plain_memcached(workload):
    """The load generator stores every record and reads each back (a miss
    exits 3), in the workload's read/update mix."""
    gen = str(memcached.ycsbgen())
    port = free_port()
    srv = memcached.A.server("tiny")
    proc = subprocess.Popen(srv.argv(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if subprocess.run([gen, "127.0.0.1", str(port), "load", workload, "500", "0", "100", "1", "1"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("memcached did not start")
        r = subprocess.run([gen, "127.0.0.1", str(port), "run", workload, "500", "2000", "100", "2", "2"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "ops=2000 " in r.stdout and "misses=0" in r.stdout
    finally:
        proc.terminate()
        proc.wait()


def test_ycsbgen_rejects_bad_workload():
    r = subprocess.run([str(memcached.ycsbgen()), "127.0.0.1", "1", "run", "z", "10", "10", "10", "1", "1"], capture_output=True, text=True)
    assert r.returncode == 2 and "workload must be a or b" in r.stderr


@needs_memcached
def test_memcached_server_under_the_emulator():
    """Only the server is emulated: with a quarter of its memory local it
    must fetch pages remotely, and the client still gets every value."""
    app = apps.get("memcached-b")
    full = run_app(app, "tiny", Settings(local_pages=None), client_timeout_s=60)
    assert full.ops_per_s and full.ops_per_s > 0 and full.remote_faults == 0
    part = run_app(app, "tiny", Settings(local_pages=max(1, full.peak_pages // 4)), client_timeout_s=60)
    assert part.pages_written_back + part.pages_fetched > 0
