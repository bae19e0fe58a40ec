"""A memory blade the user runs (`ddclab emu blade`), on this machine or
behind a real (virtual) network link in another network namespace."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import run_cli
from ddclab.emu import runner


def start_blade(cli_env, argv_prefix, addr):
    """`[prefix...] ddclab emu blade tcp ADDR`; returns (process, backend spec)."""
    p = subprocess.Popen([*argv_prefix, sys.executable, "-m", "ddclab", "emu", "blade", "tcp", addr], env=cli_env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if "--backend " not in line:
        p.kill()
        pytest.fail(f"the blade did not start: {line!r} {p.stderr.read()!r}")
    return p, line.split("--backend ")[1].split()[0]


def stop(p):
    """Ctrl-C stops the blade at once, with exit code 0."""
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=10) == 0, p.stderr.read()


def round_trip(memtest, spec):
    r = runner.run_once([str(memtest), "threads", "4"], runner.Settings(local_pages=256, backend=spec), quiet=True)
    assert r.returncode == 0, f"{spec}: {r.status_text()} (3 = data mismatch)"
    t = r.summary.totals
    assert t["pages_evicted"] > 500 and t["pages_fetched"] > 500, t


def test_a_running_blade_serves_runs_and_the_probe(memtest, memu_dir, cli_env):
    # Its stdin is /dev/null (as under nohup or a service manager): it must keep running.
    p, spec = start_blade(cli_env, [], "127.0.0.1:0")
    try:
        assert spec.startswith("tcp:127.0.0.1:")
        round_trip(memtest, spec)
        r = run_cli(["emu", "probe", "--backend", spec, "--pages", "256", "--samples", "50"], cli_env)
        assert r.returncode == 0, r.stderr
        assert [x.split()[0] for x in r.stdout.strip().splitlines()[1:]] == ["floor", spec]
    finally:
        stop(p)


def test_blade_errors_are_one_line_exit_2(cli_env):
    r = run_cli(["emu", "blade", "tcp", "192.0.2.1:7000"], cli_env)  # TEST-NET-1: not an address of this machine
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the memory blade did not start") and "192.0.2.1:7000" in lines[0], r.stderr
    r = run_cli(["emu", "probe", "--backend", "rdma"], cli_env)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: --backend 'rdma'"), r.stderr


@pytest.fixture()
def netns():
    """A network namespace joined to this one by a veth pair:
    (name, address of its end). Skips where namespaces can't be made."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make a network namespace")
    tag = f"{os.getpid() % 100000}"
    ns, here, there = f"ddclab-t{tag}", f"ddc{tag}a", f"ddc{tag}b"
    net = f"10.213.{os.getpid() % 250}"

    def ip(*args, netns=None):
        cmd = ["ip", "netns", "exec", netns, "ip", *args] if netns else ["ip", *args]
        return subprocess.run(cmd, capture_output=True, text=True)

    made = ip("netns", "add", ns)
    if made.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {made.stderr.strip()}")
    try:
        for r in (ip("link", "add", here, "type", "veth", "peer", "name", there),
                  ip("link", "set", there, "netns", ns),
                  ip("addr", "add", f"{net}.1/30", "dev", here), ip("link", "set", here, "up"),
                  ip("addr", "add", f"{net}.2/30", "dev", there, netns=ns), ip("link", "set", there, "up", netns=ns),
                  ip("link", "set", "lo", "up", netns=ns)):
            assert r.returncode == 0, r.stderr
        yield ns, f"{net}.2"
    finally:
        ip("link", "del", here)
        ip("netns", "del", ns)


def test_blade_in_another_network_namespace(memtest, memu_dir, cli_env, netns):
    """Remote pages cross a veth link into another network stack: the set-up a
    user builds to put a real (virtual) network between a program and its
    memory."""
    ns, addr = netns
    p, spec = start_blade(cli_env, ["ip", "netns", "exec", ns], f"{addr}:0")
    try:
        assert spec.startswith(f"tcp:{addr}:")
        round_trip(memtest, spec)
    finally:
        stop(p)
