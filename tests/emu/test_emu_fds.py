"""Programs that close descriptors they did not open (docs/notes-for-emu.md,
item 5): close_range(3, ~0) as the JDK's jspawnhelper, daemons and Python's
subprocess (in a forked child) do. The emulator's service threads keep their
descriptors in tables of their own, so the program goes on fully emulated;
where that is refused (DDCLAB_MEMU_SHARED_FDS=1 forces the fallback) the
emulator stops cleanly if no page is remote and stops the program with a
one-line message otherwise. The old shim's handler exited 125 in every case."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli, run_under_shim

from ddclab.emu import stats

TIMEOUT_S = 60.0


def _run(memtest: Path, args: list[str], local_pages: str, stats_dir: Path, shared_fds: bool = False):
    return run_under_shim([memtest, *args], local_pages, stats_dir, TIMEOUT_S,
                          {"DDCLAB_MEMU_SHARED_FDS": "1" if shared_fds else "0"})


def _main(stats_dir: Path) -> dict:
    """Counters of the program itself (the lowest pid: its fork child comes later)."""
    procs = sorted(stats.read_dir(stats_dir), key=lambda p: p.counters["start_ns"])
    assert procs, "no stats file"
    return procs[0].counters


@pytest.mark.parametrize("local_pages", ["unlimited", "2000"])
def test_closing_every_descriptor_keeps_the_program_emulated(memtest, memu_dir, tmp_path, local_pages):
    rc, out, err = _run(memtest, ["closefds", "1"], local_pages, tmp_path)
    assert rc == 0 and "OK closefds" in out, (rc, out, err)
    c = _main(tmp_path)
    assert c["uffd_closed"] == 0, "the emulator's own descriptors were untouched"
    # The 1 MiB allocated after the close was emulated (first touches).
    assert c["zero_fills"] >= 256, c


def test_pages_remote_when_descriptors_are_closed_come_back(memtest, memu_dir, tmp_path):
    """8 MiB at 200 local pages: most of it is remote when the program closes
    every descriptor, and it reads all of it back afterwards."""
    rc, out, err = _run(memtest, ["closefds-remote", "8"], "200", tmp_path)
    assert rc == 0 and "OK closefds" in out, (rc, out, err)
    c = _main(tmp_path)
    assert c["remote_faults"] > 0 and c["pages_evicted"] > 2048, c


@pytest.mark.parametrize("local_pages", ["unlimited", "2000"])
def test_fallback_stops_emulating_cleanly_with_nothing_remote(memtest, memu_dir, tmp_path, local_pages):
    rc, out, err = _run(memtest, ["closefds", "1"], local_pages, tmp_path, shared_fds=True)
    assert rc == 0 and "OK closefds" in out, (rc, out, err)
    assert _main(tmp_path)["uffd_closed"] == 1


def test_fallback_stops_the_program_when_pages_are_remote(memtest, memu_dir, tmp_path):
    """Their contents would read as zeros: the program must not go on (it
    would exit 3 on the mismatch)."""
    rc, out, err = _run(memtest, ["closefds-remote", "8"], "200", tmp_path, shared_fds=True)
    assert rc == 125, (rc, out, err)
    assert "closed the emulator's userfaultfd" in err and "pages were remote" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_emu_run_reports_a_closed_userfaultfd(memtest, cli_env):
    """`emu run` says when a process ran on unemulated (the fallback)."""
    env = dict(cli_env, DDCLAB_MEMU_SHARED_FDS="1")
    r = run_cli(["emu", "run", "--local", "8MiB", "--no-baseline", "--", str(memtest), "closefds", "1"], env)
    assert r.returncode == 0, r.stderr
    assert "1 process(es) closed the emulator's userfaultfd" in r.stdout, r.stdout
