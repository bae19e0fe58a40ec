"""`--idle-poll`: the PM QoS request that keeps idle CPUs polling is held for
exactly the duration asked, dropped afterwards, and reported; a request that
cannot be held is an error with `on` and a stated fact with `auto`."""

from __future__ import annotations

import os
import struct

import pytest

from conftest import run_cli
from ddclab.emu import idle
from ddclab.errors import DdclabError


def _qos_target() -> int | None:
    """The kernel's current aggregate CPU latency target (us), or None."""
    try:
        fd = os.open(idle.DEVICE, os.O_RDONLY)
    except OSError:
        return None
    try:
        return struct.unpack("=i", os.read(fd, 4))[0]
    finally:
        os.close(fd)


def _can_poll() -> bool:
    return _qos_target() is not None and idle._cpuidle_polls() is None


def test_off_never_touches_the_device():
    with idle.Holder("off", device="/nonexistent/cpu_dma_latency") as ip:
        assert not ip.active
        assert ip.describe() == "idle CPUs halt (--idle-poll off)"


def test_on_fails_with_one_line_naming_the_device():
    with pytest.raises(DdclabError, match=r"--idle-poll on: cannot hold a request on /nonexistent/cpu_dma_latency"):
        with idle.Holder("on", device="/nonexistent/cpu_dma_latency"):
            pass


def test_auto_states_why_it_could_not():
    with idle.Holder("auto", device="/nonexistent/cpu_dma_latency") as ip:
        assert not ip.active and "/nonexistent/cpu_dma_latency" in ip.describe()


def test_unknown_mode_is_refused():
    with pytest.raises(DdclabError, match="--idle-poll 'sometimes'"):
        idle.Holder("sometimes")


@pytest.mark.skipif(not _can_poll(), reason="needs root and a cpuidle driver with a polling state")
def test_request_is_held_while_inside_and_dropped_after():
    before = _qos_target()
    assert before != 0, "another process already holds a 0 us request: the test could not tell"
    with idle.Holder("on") as ip:
        assert ip.active
        assert _qos_target() == 0
    assert _qos_target() == before


def test_cli_reports_the_setting_and_refuses_bad_values(memtest, cli_env):
    r = run_cli(["emu", "run", "--local", "1MiB", "--no-baseline", "--idle-poll", "off", "--", str(memtest), "exit", "0"], cli_env)
    assert r.returncode == 0, r.stderr
    assert "idle CPUs halt (--idle-poll off)" in r.stderr
    r = run_cli(["emu", "run", "--local", "1MiB", "--idle-poll", "always", "--", str(memtest), "exit", "0"], cli_env)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "--idle-poll" in r.stderr
    if _can_poll():
        r = run_cli(["emu", "run", "--local", "1MiB", "--no-baseline", "--idle-poll", "on", "--", str(memtest), "exit", "0"], cli_env)
        assert r.returncode == 0, r.stderr
        assert "idle CPUs poll (PM QoS 0 us held on /dev/cpu_dma_latency)" in r.stderr
