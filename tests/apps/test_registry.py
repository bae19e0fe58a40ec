"""The suite's registry, scales, skip reasons, cache keys and run time limits
(no Spark, Java or timely build needed)."""

from __future__ import annotations

import csv
import os
import time

import pytest

from ddclab import apps
from ddclab.apps import memkernel, spark, timely
from ddclab.apps.base import App
from ddclab.apps.emulate import Measurement, RunTimedOut, _descendants, run as run_app
from ddclab.emu.runner import Settings
from ddclab.errors import DdclabError
from ddclab.experiments import ddc_requirements as exp


def test_new_apps_are_registered():
    names = set(apps.names())
    assert {"spark-wordcount", "spark-sort", "spark-sql", "spark-als", "timely-pagerank"} <= names
    for a in (*spark.APPS, timely.PAGERANK):
        assert a.kind == "program" and a.metric == "runtime"
    assert all(a.heavy for a in spark.APPS) and not timely.PAGERANK.heavy
    assert "timely-pagerank" in exp.SCALES["small"].apps


def test_every_scale_names_registered_apps_and_heavy_ones_only_at_paper():
    for scale in exp.SCALES.values():
        for n in scale.apps:
            apps.get(n)
    assert set(apps.names()) == set(exp.SCALES["paper"].apps)
    for s in ("tiny", "small"):
        assert not any(apps.get(n).heavy for n in exp.SCALES[s].apps), s
    # Every app left out of small says why (shown in the report).
    left_out = set(apps.names()) - set(exp.SCALES["small"].apps)
    assert left_out == set(exp.NOT_IN_SCALE["small"])


def test_cache_key_follows_the_full_argv(monkeypatch):
    app = apps.get("kernel-hashjoin")
    k1 = exp._key("calibration", app.name, "small", exp.app_argv(app, "small"))
    monkeypatch.setitem(memkernel.SIZES["hashjoin"], "small", (8, 1000))
    argv = exp.app_argv(app, "small")
    assert argv[-3:-1] == ["8", "1000"]
    assert exp._key("calibration", app.name, "small", argv) != k1


def test_server_argv_includes_client_and_loader():
    argv = exp.app_argv(apps.get("memcached-a"), "small")
    assert len(argv) == 3 and argv[0][0].endswith("memcached") and "run" in argv[2]


def test_run_timeout_scales_with_calibration():
    small = exp.SCALES["small"]
    assert exp.run_timeout(small, 0.5) == exp.MIN_TIMEOUT_S
    assert exp.run_timeout(small, 5.0) == 5.0 * exp.TIMEOUT_FACTOR
    assert exp.run_timeout(small, 1000.0) == small.client_timeout_s
    assert exp.run_timeout(small, 0.5, "server") == small.client_timeout_s


def _fake(name: str, unavailable=None, command=None) -> App:
    return App(name=name, title=name, metric="runtime", substitution="a fake app of the tests, never run for real",
               install=lambda: None, unavailable=lambda: unavailable, command=command or (lambda scale: ["true"]))


def test_unavailable_and_failing_apps_are_reported_not_crashed(tmp_path, monkeypatch):
    def broken(scale):
        raise DdclabError("fake-broken: cargo build failed: no network")

    monkeypatch.setitem(apps.APPS, "fake-missing", _fake("fake-missing", unavailable="pyspark is not installed in /x (make setup-apps)"))
    monkeypatch.setitem(apps.APPS, "fake-broken", _fake("fake-broken", command=broken))
    html = exp.run(tmp_path / "o", "small", apps="fake-missing,fake-broken", reps=1, log=lambda m: None)
    text = html.read_text()
    assert "fake-missing: not run: pyspark is not installed" in text
    assert "fake-broken: not run: calibration run failed: fake-broken: cargo build failed" in text
    # Apps of the suite that small leaves out are named, with the reason.
    assert "spark-als: not in this scale: paper scale only" in text and "redis: not in this scale" in text


def test_timed_out_points_stop_smaller_local_memories(tmp_path, monkeypatch):
    """A run that times out marks every point of that app with as little or
    less local memory as not run (it would time out too); the rest is run."""
    calls = []

    def fake_run(app, scale, settings, timeout_s):
        calls.append(settings.local_pages)
        if settings.local_pages is not None and settings.local_pages <= 250 and settings.latency_ns > 0:
            raise RunTimedOut(f"{app.name} did not finish in {timeout_s:.0f} s under the emulator")
        return Measurement(seconds=1.0 + settings.latency_ns / 1e4, ops_per_s=None, remote_faults=1, pages_fetched=1,
                           pages_written_back=0, stall_ms=0.0, overhead_median_us=None, peak_pages=1000,
                           injected_ms=settings.latency_ns / 1e6)

    monkeypatch.setitem(apps.APPS, "fake-slow", _fake("fake-slow"))
    monkeypatch.setattr(exp, "run_app", fake_run)
    exp.run(tmp_path / "o", "small", apps="fake-slow", reps=1, log=lambda m: None)
    rows = list(csv.DictReader(open(tmp_path / "o" / "points.csv")))
    assert len(rows) == len(exp.grid(exp.SCALES["small"]))
    timed_out = [r for r in rows if "did not finish" in r["error"]]
    skipped = [r for r in rows if r["error"].startswith("not run")]
    ok = [r for r in rows if not r["error"]]
    assert len(timed_out) == 1 and timed_out[0]["local_pct"] == "25"
    assert skipped and all(float(r["local_pct"]) <= 25 for r in skipped)
    assert all(float(r["local_pct"]) > 25 or float(r["latency_us"]) == 0 or r in ok for r in ok)
    assert {r["local_pct"] for r in ok if float(r["latency_us"]) > 0} == {"50", "75", "100"}
    assert len(calls) == 1 + len(ok) + len(timed_out)  # calibration + runs; skipped points never ran

    # Rerun (to re-render): the time-out is remembered, nothing runs again.
    calls.clear()
    exp.run(tmp_path / "o", "small", apps="fake-slow", reps=1, log=lambda m: None)
    assert calls == [] and list(csv.DictReader(open(tmp_path / "o" / "points.csv"))) == rows
    # Under a longer limit the timed-out run is tried again (and only it: the
    # points below it are skipped again only if it times out again).
    monkeypatch.setattr(exp, "MIN_TIMEOUT_S", exp.MIN_TIMEOUT_S * 10)
    exp.run(tmp_path / "o", "small", apps="fake-slow", reps=1, log=lambda m: None)
    assert len(calls) == 1


def test_other_failures_are_not_remembered(tmp_path, monkeypatch):
    calls, failed_once = [], set()

    def flaky_run(app, scale, settings, timeout_s):
        point = (settings.local_pages, settings.latency_ns, settings.bandwidth_bps)
        calls.append(point)
        if settings.latency_ns > 0 and point not in failed_once:  # each delayed point fails its first attempt
            failed_once.add(point)
            raise DdclabError(f"{app.name} failed under the emulator (exit 1)")
        return Measurement(seconds=1.0, ops_per_s=None, remote_faults=1, pages_fetched=1, pages_written_back=0, stall_ms=0.0,
                           overhead_median_us=None, peak_pages=1000, injected_ms=0.0)

    monkeypatch.setitem(apps.APPS, "fake-flaky", _fake("fake-flaky"))
    monkeypatch.setattr(exp, "run_app", flaky_run)
    exp.run(tmp_path / "o", "tiny", apps="fake-flaky", reps=1, log=lambda m: None)
    first = list(csv.DictReader(open(tmp_path / "o" / "points.csv")))
    delayed = [p for p in exp.grid(exp.SCALES["tiny"]) if p[1] > 0]
    assert sum(bool(r["error"]) for r in first) == len(delayed) > 0
    calls.clear()
    exp.run(tmp_path / "o", "tiny", apps="fake-flaky", reps=1, log=lambda m: None)
    assert len(calls) == len(delayed) and not any(r["error"] for r in csv.DictReader(open(tmp_path / "o" / "points.csv")))


def test_watchdog_kills_a_program_that_outlives_its_limit(memu_dir, monkeypatch):
    monkeypatch.setenv("DDCLAB_MEMU_DIR", str(memu_dir))
    app = _fake("fake-sleeper", command=lambda scale: ["/bin/sleep", "60"])
    t0 = time.monotonic()
    with pytest.raises(DdclabError, match="did not finish in 2 s"):
        run_app(app, "tiny", Settings(local_pages=None), client_timeout_s=2)
    assert time.monotonic() - t0 < 20
    assert not _descendants(os.getpid()), "the killed program must be gone"
    # A program that finishes in time is measured as usual.
    m = run_app(_fake("fake-quick", command=lambda scale: ["/bin/true"]), "tiny", Settings(local_pages=None), client_timeout_s=30)
    assert m.seconds < 20


# A server whose loading reads 8 MiB back (remote faults under a small budget)
# and whose timed requests touch nothing: a request is one line, "fill" or "noop".
_SERVER = r"""
import socket, sys
srv = socket.create_server(("127.0.0.1", int(sys.argv[1])))
keep = []
while True:
    conn, _ = srv.accept()
    cmd = conn.makefile().readline().strip()
    if cmd == "fill":
        b = bytearray(8 << 20)
        for i in range(0, len(b), 4096):
            b[i] = 1
        keep.append(sum(b[::4096]))  # read every page back: evicted ones come in again
    conn.sendall(b"ok\n")
    conn.close()
"""
_CLIENT = r"""
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(sys.argv[2].encode() + b"\n")
assert c.makefile().readline().strip() == "ok"
"""


def test_a_servers_counters_cover_its_timed_phase_only(memu_dir, monkeypatch):
    """Loading is not measured: neither its time nor its faults (a server's
    remote traffic per second of run would otherwise count the loading's)."""
    import sys as _sys

    from ddclab.apps.base import Server

    monkeypatch.setenv("DDCLAB_MEMU_DIR", str(memu_dir))
    py = _sys.executable

    def server(prepare_cmd):
        return lambda scale: Server(argv=lambda port: [py, "-c", _SERVER, str(port)],
                                    prepare=lambda port: [[py, "-c", _CLIENT, str(port), prepare_cmd]],
                                    client=lambda port: [py, "-c", _CLIENT, str(port), "noop"])

    def app(name, prepare_cmd):
        return App(name=name, title=name, metric="throughput", substitution="a fake server of the tests", install=lambda: None,
                   unavailable=lambda: None, server=server(prepare_cmd))

    # Loading reads 2048 pages back through a 512-page budget: counted over
    # the whole run, 1,600+ remote faults and 8,000+ pages fetched.
    m = run_app(app("fake-loaded", "fill"), "tiny", Settings(local_pages=512), client_timeout_s=60)
    # The peak is a level of the whole run, not a difference: it reached the
    # evictor's wake mark (448 of 512, crates/memu/src/emu.rs watermarks) and
    # never passed the budget. Where between the two depends on scheduling.
    assert 448 <= m.peak_pages <= 512, m
    assert m.remote_faults < 200 and m.pages_fetched < 1000, m


def test_only_single_threaded_programs_are_kept_off_the_service_cpu():
    two = len(os.sched_getaffinity(0)) > 1
    assert exp.program_cpus(apps.get("kernel-rand")) == ("rest" if two else "all")
    for n in ("memcached-a", "timely-pagerank", "redis", "spark-sql"):
        assert exp.program_cpus(apps.get(n)) == "all", n
