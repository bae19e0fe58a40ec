"""The `ddclab emu` command line: pass-through of exit status and signals,
calibration, traces, Ctrl-C, and one-line errors for bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from conftest import run_cli


def test_exit_status_passes_through(memtest, cli_env):
    r = run_cli(["emu", "run", "--local", "1MiB", "--no-baseline", "--", str(memtest), "exit", "7"], cli_env)
    assert r.returncode == 7, r.stderr


def test_signal_passes_through(memtest, cli_env):
    r = run_cli(["emu", "run", "--local", "1MiB", "--no-baseline", "--", str(memtest), "signal"], cli_env)
    assert r.returncode == -signal.SIGSEGV, (r.returncode, r.stderr)


def test_run_reports_degradation_overhead_and_trace(memtest, cli_env, tmp_path):
    out = tmp_path / "t.parquet"
    res = tmp_path / "r.json"
    r = run_cli(["emu", "run", "--local", "25%", "--latency", "2us", "--bandwidth", "40Gbps", "--trace", str(out),
                 "--out", str(res), "--", str(memtest), "basic", "8"], cli_env)
    assert r.returncode == 0, r.stderr
    assert "calibration: peak" in r.stderr
    assert "degradation vs zero-injected-delay run" in r.stdout
    assert "end-to-end fault cost" in r.stdout and "a bare userfaultfd round trip here (the floor)" in r.stdout
    t = pq.read_table(out)
    assert t.column_names == ["ts_ns", "pid", "page", "pages", "kind", "batch"]
    kinds = set(t.column("kind").to_pylist())
    assert kinds == {"read", "write"}, kinds
    assert t.num_rows > 100
    import json
    d = json.loads(res.read_text())
    assert d["emulated"]["counters"]["pages_fetched"] > 0
    assert "slowdown_pct" in d
    # Same command line again: the calibration comes from the cache.
    r2 = run_cli(["emu", "run", "--local", "25%", "--no-baseline", "--", str(memtest), "basic", "8"], cli_env)
    assert r2.returncode == 0 and "[cached]" in r2.stderr


def test_fct_table_mode(memtest, cli_env):
    r = run_cli(["emu", "run", "--local", "512KiB", "--fct", "40g/tm/memcached", "--no-baseline", "--",
                 str(memtest), "basic", "4"], cli_env)
    assert r.returncode == 0, r.stderr
    assert "FCT table fcts_tm_pfabric_memcached.txt" in r.stderr


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--local", "10%", "--", "/no/such/program"], "program not found"),
        (["--local", "10%", "--", "no-such-program-xyz"], "program not found on PATH"),
        (["--local", "10%", "--latency", "-5us", "--", "true"], "cannot be negative"),
        (["--local", "0%", "--", "true"], "(0, 100]"),
        (["--local", "150%", "--", "true"], "(0, 100]"),
        (["--local", "-1MiB", "--", "true"], "must be positive"),
        (["--local", "10%", "--bandwidth", "fast", "--", "true"], "--bandwidth"),
        (["--local", "10%", "--readahead", "3", "--", "true"], "--readahead"),
        (["--local", "10%", "--fct", "nope", "--", "true"], "--fct"),
        (["--local", "10%"], "no program given"),
        (["--local", "10%", "--backend", "rdma", "--", "true"], "--backend"),
        (["--local", "10%", "--service-cpu", "9999", "--", "true"], "--service-cpu"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli_env, args, msg):
    r = run_cli(["emu", "run", *args], cli_env)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and msg in lines[0], r.stderr


@pytest.mark.parametrize("backend", ["inproc", "shm"])
def test_ctrl_c_leaves_nothing_behind(memtest, cli_env, backend):
    tmp = cli_env["TMPDIR"]
    p = subprocess.Popen([sys.executable, "-m", "ddclab", "emu", "run", "--local", "1MiB", "--no-baseline",
                          "--backend", backend, "--", str(memtest), "sleep", "30"], env=cli_env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    # Wait until the program runs under the emulator (its temp dir exists).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(n.startswith("ddclab-emu-") for n in os.listdir(tmp)):
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(p.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert os.listdir(tmp) == [], "temporary files left behind"
    r = subprocess.run(["pgrep", "-f", f"{memtest} sleep"], capture_output=True)
    assert r.returncode == 1, "the emulated program is still running"
    r = subprocess.run(["pgrep", "-f", f"memu-blade shm {tmp}"], capture_output=True)
    assert r.returncode == 1, "the memory blade is still running"


def test_sweep_fits_runtime_against_delay(memtest, cli_env):
    r = run_cli(["emu", "sweep", "--local", "256KiB", "--latency", "0,20us,40us", "--readahead", "1", "--",
                 str(memtest), "basic", "2"], cli_env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "runtime = " in r.stdout and "s/us * latency" in r.stdout
    assert "latency keeping the slowdown within 5%" in r.stdout


def test_probe_prints_the_latency_table(cli_env):
    r = run_cli(["emu", "probe", "--pages", "512", "--samples", "100"], cli_env)
    assert r.returncode == 0, r.stderr
    head, *rows = r.stdout.strip().splitlines()
    assert head.split()[:6] == ["backend", "min", "avg", "median", "p99.5", "max"]
    assert [x.split()[0] for x in rows] == ["floor", "inproc", "shm", "tcp"]
    for row in rows:
        vals = [float(v) for v in row.split()[1:6]]
        assert len(vals) == 5 and vals[0] <= vals[2] <= vals[4], row


def test_sigterm_stops_the_emulated_program(memtest, cli_env):
    """`ddclab emu run` killed by SIGTERM (sent to it alone, as a supervisor or
    `timeout` does) used to exit at once and leave the emulated program
    running, orphaned. It now passes the signal on and waits for it."""
    tmp = cli_env["TMPDIR"]
    p = subprocess.Popen([sys.executable, "-m", "ddclab", "emu", "run", "--local", "1MiB", "--no-baseline",
                          "--", str(memtest), "sleep", "31"], env=cli_env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(n.startswith("ddclab-emu-") for n in os.listdir(tmp)):
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 128 + signal.SIGTERM, (p.returncode, err)
    assert os.listdir(tmp) == [], "temporary files left behind"
    r = subprocess.run(["pgrep", "-f", f"{memtest} sleep 31"], capture_output=True)
    assert r.returncode == 1, "the emulated program is still running"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two CPUs")
@pytest.mark.parametrize("choice", ["auto", "none"])
def test_service_threads_are_pinned_to_one_cpu(cli_env, choice, tmp_path):
    # A program that reports which CPUs each of its threads may use: the
    # emulator's two service threads are threads of the program.
    prog = ("import glob\n"
            "for f in sorted(glob.glob('/proc/self/task/*/status')):\n"
            "    print([l.split()[1] for l in open(f) if l.startswith('Cpus_allowed_list')][0])\n")
    r = run_cli(["emu", "run", "--local", "64MiB", "--no-baseline", "--service-cpu", choice, "--",
                 sys.executable, "-c", prog], cli_env)
    assert r.returncode == 0, r.stderr
    lists = r.stdout.split("results:")[0].split()  # the program prints before ddclab reports
    allowed = sorted(os.sched_getaffinity(0))
    everything = f"{allowed[0]}-{allowed[-1]}"
    pinned = [x for x in lists if x == str(allowed[-1])]
    if choice == "auto":
        assert len(pinned) == 2 and lists.count(everything) == len(lists) - 2, lists
    else:
        assert not pinned and lists.count(everything) == len(lists), lists


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="placement needs two CPUs")
def test_program_cpus_rest_keeps_the_program_off_the_service_cpu(cli_env):
    prog = ("import glob, threading\n"
            "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
            "for f in sorted(glob.glob('/proc/self/task/*/status')):\n"
            "    print([l.split()[1] for l in open(f) if l.startswith('Cpus_allowed_list')][0])\n")
    r = run_cli(["emu", "run", "--local", "64MiB", "--no-baseline", "--program-cpus", "rest", "--",
                 sys.executable, "-c", prog], cli_env)
    assert r.returncode == 0, r.stderr
    lists = r.stdout.split("results:")[0].split()
    allowed = sorted(os.sched_getaffinity(0))
    svc = str(allowed[-1])
    rest = f"{allowed[0]}-{allowed[-2]}" if len(allowed) > 2 else str(allowed[0])
    assert lists.count(svc) == 2 and lists.count(rest) == len(lists) - 2, lists
    # It needs a service CPU to keep the program off, and a sleeping handler.
    for extra in (["--service-cpu", "none"], ["--spin"]):
        bad = run_cli(["emu", "run", "--local", "64MiB", "--program-cpus", "rest", *extra, "--", "true"], cli_env)
        assert bad.returncode == 2 and bad.stderr.startswith("error: --program-cpus rest"), bad.stderr
    bad = run_cli(["emu", "run", "--local", "64MiB", "--program-cpus", "some", "--", "true"], cli_env)
    assert bad.returncode == 2 and "--program-cpus 'some'" in bad.stderr, bad.stderr
