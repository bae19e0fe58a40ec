"""ddclab reproduce ddc-requirements: analysis helpers and the tiny end-to-end run."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from conftest import run_cli
from ddclab.experiments import ddc_requirements as exp


def _runs(rows):
    return pd.DataFrame([dict(zip(["app", "local_pct", "latency_us", "bandwidth_gbps", "rep", "seconds"], r),
                              remote_faults=1, pages_fetched=8, pages_written_back=0, overhead_median_us=20.0, error=None) for r in rows])


def test_degradation_is_median_against_zero_delay_at_same_local():
    runs = _runs([
        ("x", 25, 0, 0, 0, 1.0), ("x", 25, 0, 0, 1, 1.2), ("x", 25, 0, 0, 2, 0.8),   # baseline median 1.0
        ("x", 25, 5, 40, 0, 1.5), ("x", 25, 5, 40, 1, 9.0), ("x", 25, 5, 40, 2, 1.4),  # median 1.5 (outlier ignored)
        ("x", 50, 0, 0, 0, 2.0), ("x", 50, 5, 40, 0, 2.02),
    ])
    s = exp.summarize(runs)
    assert exp.deg_at(s, "x", 25, 5, 40) == pytest.approx(50.0)
    assert exp.deg_at(s, "x", 50, 5, 40) == pytest.approx(1.0)  # its own baseline, not the 25% one
    assert exp.deg_at(s, "x", 75, 5, 40) is None


def test_failed_runs_are_left_out():
    runs = _runs([("x", 25, 0, 0, 0, 1.0), ("x", 25, 5, 40, 0, 2.0)])
    runs.loc[1, "error"] = "hung"
    assert exp.deg_at(exp.summarize(runs), "x", 25, 5, 40) is None


def test_local_needed_interpolates_the_crossing():
    runs = _runs([(a, loc, lat, bw, 0, t) for a, loc, lat, bw, t in [
        ("x", 10, 0, 0, 1.0), ("x", 10, 5, 40, 1.30),   # 30%
        ("x", 25, 0, 0, 1.0), ("x", 25, 5, 40, 1.15),   # 15%
        ("x", 50, 0, 0, 1.0), ("x", 50, 5, 40, 1.01),   # 1%
        ("x", 100, 0, 0, 1.0), ("x", 100, 5, 40, 1.0),
    ]])
    meas, interp = exp.local_needed(exp.summarize(runs), "x", 5, 40, (10, 25, 50, 100))
    assert meas == 50
    assert interp == pytest.approx(25 + (15 - 5) / (15 - 1) * 25)
    assert exp.local_needed(exp.summarize(runs), "x", 3, 100, (10, 25, 50, 100)) == (None, None)


def test_a_local_memory_with_no_remote_traffic_meets_the_threshold_whatever_its_noise():
    rows = [("x", 25, 0, 0, 0, 1.0), ("x", 25, 5, 40, 0, 1.02),   # 2%
            ("x", 100, 0, 0, 0, 1.0), ("x", 100, 5, 40, 0, 1.13)]  # +13%: noise, nothing was remote
    runs = _runs(rows)
    assert exp.local_needed(exp.summarize(runs), "x", 5, 40, (25, 100)) == (None, None)  # remote traffic everywhere
    runs.loc[runs["local_pct"] == 100, ["remote_faults", "pages_fetched"]] = 0
    assert exp.local_needed(exp.summarize(runs), "x", 5, 40, (25, 100)) == (25, 25)
    assert exp.deg_at(exp.summarize(runs), "x", 100, 5, 40) == pytest.approx(13.0)  # the figure still shows what was measured


def test_latency_fit_and_classes():
    rows = [("x", 25, 0, 0, 0, 10.0)] + [("x", 25, lat, 40, 0, 10.0 + 0.5 * lat) for lat in (1, 3, 5, 10)]
    f = exp.latency_fit(exp.summarize(_runs(rows)), "x", 40)
    assert f["slope_ms_per_us"] == pytest.approx(500.0) and f["r2"] == pytest.approx(1.0)
    assert f["latency_for_5pct_us"] == pytest.approx(1.0)  # 10 + 0.5 L = 10.5
    assert exp.classify(4.9, 50.0) == "A"
    assert exp.classify(5.0, 4.0) == "B"
    assert exp.classify(30.0, 6.0).startswith("neither")


def test_degradation_interval_brackets_the_median_and_narrows_with_runs():
    import numpy as np

    rng = np.random.default_rng(7)
    base3, run3 = 1.0 + 0.1 * rng.standard_normal(3), 1.2 + 0.1 * rng.standard_normal(3)
    lo, hi = exp.degradation_interval(run3, base3)
    mid = (np.median(run3) / np.median(base3) - 1) * 100
    assert lo <= mid <= hi
    # Three runs a side: the interval reaches (nearly) the extreme pairings.
    assert lo == pytest.approx((run3.min() / base3.max() - 1) * 100, abs=1.0)
    assert hi == pytest.approx((run3.max() / base3.min() - 1) * 100, abs=1.0)
    assert exp.degradation_interval(run3, base3) == (lo, hi), "a fixed seed: the same runs, the same interval"
    # The same spread seen in nine runs a side: a narrower interval.
    lo9, hi9 = exp.degradation_interval(np.repeat(run3, 3), np.repeat(base3, 3))
    assert lo < lo9 <= mid <= hi9 < hi
    assert exp.degradation_interval(np.array([2.0, 2.0]), np.array([1.0, 1.0])) == (100.0, 100.0)
    assert all(np.isnan(exp.degradation_interval(run3, None)))


def test_summary_carries_the_interval_and_classes_say_if_firm():
    rows = [("x", 25, 0, 0, i, t) for i, t in enumerate((1.0, 1.01, 0.99))] + \
           [("x", 25, 5, 40, i, t) for i, t in enumerate((1.01, 1.015, 1.005))] + \
           [("x", 25, 3, 100, i, t) for i, t in enumerate((1.3, 1.32, 1.28))]
    s = exp.summarize(_runs(rows))
    r5, r3 = exp.deg_range_at(s, "x", 25, 5, 40), exp.deg_range_at(s, "x", 25, 3, 100)
    assert r5[0] < 1.0 < r5[1] < 5.0 and r3[0] > 5.0
    assert exp.class_firmness("A", r5, r3) == "firm"
    assert exp.class_firmness("B", r5, r3).startswith("not firm: 5% lies within") and "5 us / 40 Gbps" in exp.class_firmness("B", r5, r3)
    assert exp.class_firmness("neither (x)", (6.0, 9.0), (5.5, 7.0)) == "firm"
    assert exp.class_firmness("A", None, r3) == "not firm: no run-to-run range at 5 us / 40 Gbps (one repetition)"
    single = exp.summarize(_runs([("x", 25, 0, 0, 0, 1.0), ("x", 25, 5, 40, 0, 1.01)]))
    assert exp.deg_range_at(single, "x", 25, 5, 40) is None


def test_class_points_are_in_every_grid():
    for scale in exp.SCALES.values():
        assert set(exp.class_points()) <= set(exp.grid(scale))
    assert exp.SCALES["small"].class_reps >= exp.SCALES["small"].reps


def test_grid_has_the_study_points():
    g = exp.grid(exp.SCALES["paper"])
    assert (25, 0, 0) in g and (10, 0, 0) in g
    assert all((25, lat, bw) in g for lat in (1, 3, 5, 10, 40) for bw in (10, 40, 100))
    assert all((loc, 3, 100) in g for loc in (10, 25, 50, 75, 100))
    assert len(g) == len(set(g)) == 28


def test_small_grid_is_the_cross_of_figures_3_and_4():
    g = exp.grid(exp.SCALES["small"])
    assert all((25, lat, 40) in g for lat in (1, 3, 5, 10, 40))  # Figure 4
    assert all((25, 5, bw) in g for bw in (10, 40, 100))  # Figure 3
    assert (25, 40, 10) not in g and (25, 1, 100) not in g
    assert all((loc, lat, bw) in g for loc in (10, 25, 50, 75, 100) for lat, bw in ((0, 0), (5, 40), (3, 100)))
    assert len(g) == len(set(g)) == 21


def test_tiny_reproduction_end_to_end_and_cached(tmp_path, cli_env):
    out = tmp_path / "o"
    r = run_cli(["reproduce", "ddc-requirements", "--scale", "tiny", "--apps", "kernel-rand", "--out", str(out)], cli_env)
    assert r.returncode == 0, r.stderr
    for f in ("report.html", "points.csv", "summary.csv", "table3.csv", "fits.csv", "classes.csv", "plots/fig4_latency.png", "plots/fig5_local.csv"):
        assert (out / f).is_file(), f
    rows = list(csv.DictReader(open(out / "points.csv")))
    assert len(rows) == len(exp.grid(exp.SCALES["tiny"]))
    assert all(float(r["seconds"]) > 0 for r in rows)
    html = (out / "report.html").read_text()
    assert "Figure 2" in html and "Table 3" in html and "hardware performance counters" in html
    assert "Idle CPUs poll" in html or "Idle CPUs halt" in html
    assert "userfaultfd round trip (floor, no emulator): median" in html and (out / "overhead.csv").is_file()
    first = (out / "points.csv").read_bytes()
    r2 = run_cli(["reproduce", "ddc-requirements", "--scale", "tiny", "--apps", "kernel-rand", "--out", str(out)], cli_env)
    assert r2.returncode == 0, r2.stderr
    assert (out / "points.csv").read_bytes() == first, "a rerun must reuse the cached runs"
    # More repetitions of the class points only: the first ones come from the cache.
    r3 = run_cli(["reproduce", "ddc-requirements", "--scale", "tiny", "--apps", "kernel-rand", "--class-reps", "2", "--out", str(out)],
                 cli_env)
    assert r3.returncode == 0, r3.stderr
    rows3 = list(csv.DictReader(open(out / "points.csv")))
    assert len(rows3) == len(rows) + 3
    assert sorted((float(r["local_pct"]), float(r["latency_us"]), float(r["bandwidth_gbps"])) for r in rows3 if r["rep"] == "1") == \
        sorted((float(a), float(b), float(c)) for a, b, c in exp.class_points())
    assert rows3[:len(rows)] == rows
    cls = list(csv.DictReader(open(out / "classes.csv")))[0]
    assert cls["range_5us_40g"] and cls["range_3us_100g"] and cls["firmness"], cls


@pytest.mark.parametrize("args,needle", [
    (["--reps", "0"], "--reps 0"),
    (["--class-reps", "0"], "--class-reps 0"),
    (["--apps", "nope"], "--apps: unknown app"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, cli_env, args, needle):
    r = run_cli(["reproduce", "ddc-requirements", "--scale", "tiny", "--out", str(tmp_path / "o"), *args], cli_env)
    assert r.returncode == 2
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_list_apps(cli_env):
    r = run_cli(["reproduce", "ddc-requirements", "--list-apps"], cli_env)
    assert r.returncode == 0
    assert "kernel-rand" in r.stdout and "memcached-a" in r.stdout


def test_latency_fit_says_when_no_latency_meets_5pct():
    # The transfer time alone costs 20%: the fit's intercept is above 1.05 x zero delay.
    rows = [("x", 25, 0, 0, 0, 10.0)] + [("x", 25, lat, 10, 0, 12.0 + 0.5 * lat) for lat in (1, 3, 5)]
    f = exp.latency_fit(exp.summarize(_runs(rows)), "x", 10)
    assert f["latency_for_5pct_us"] is None and f["over_5pct_at_zero_latency"] is True
