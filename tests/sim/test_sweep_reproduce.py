"""Sweeps (Dask, cache, resume) and `ddclab reproduce phost` at tiny scale."""

import json

import pandas as pd

from ddclab import sweep

from .conftest import SMALL


def test_sweep_cli_runs_grid_and_caches(small, tmp_path, cli):
    out = tmp_path / "sw"
    args = ["sweep", str(small), "--grid", "workload.load=0.3,0.5", "--grid", "transport.protocol=tcp,dctcp", "--out", str(out), "--workers", "2"]
    p = cli(*args)
    assert p.returncode == 0, p.stderr
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 4
    assert set(table["transport.protocol"]) == {"tcp", "dctcp"}
    assert (out / "report.html").exists()
    cached = sorted((out / ".cache").glob("*.json"))
    assert len(cached) == 4
    # A rerun uses the cache: same numbers, no new entries.
    stamps = [c.stat().st_mtime_ns for c in cached]
    p = cli(*args)
    assert p.returncode == 0, p.stderr
    assert [c.stat().st_mtime_ns for c in sorted((out / ".cache").glob("*.json"))] == stamps
    pd.testing.assert_frame_equal(pd.read_csv(out / "sweep.csv"), table)


def test_sweep_bad_grid_and_bad_point(small, tmp_path, cli):
    p = cli("sweep", str(small), "--grid", "workload.load", "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "KEY=V1,V2" in p.stderr
    p = cli("sweep", str(small), "--grid", "workload.load=0.5,-1", "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "workload.load" in p.stderr and "Traceback" not in p.stderr


def test_points_are_deterministic_inline_and_on_dask(tmp_path):
    import tomllib

    base = tomllib.loads(SMALL)
    points = sweep.grid(base, {"workload.load": [0.2, 0.4]})
    inline = sweep.run_points(points, tmp_path / "a", workers=1)
    dask = sweep.run_points(points, tmp_path / "b", workers=2)
    assert [r["summary"] for r in inline] == [r["summary"] for r in dask]
    # Keys depend on the scenario, not on the labels' order of creation.
    assert points[0].key() != points[1].key()
    assert sweep.Point(base).key() == sweep.Point(json.loads(json.dumps(base))).key()


def test_reproduce_phost_tiny(tmp_path, cli):
    out = tmp_path / "ph"
    p = cli("reproduce", "phost", "--scale", "tiny", "--out", str(out), "--workers", "2")
    assert p.returncode == 0, p.stderr
    html = (out / "report.html").read_text()
    for fig in ["5.3", "5.4", "5.5", "5.6", "5.7", "5.8", "5.9", "5.10"]:
        assert f"Figure {fig}" in html, fig
    pts = pd.read_csv(out / "points.csv")
    assert {"load", "bimodal", "matrix", "buffer"} <= set(pts["figure"])
    assert (pts["completed"] == pts["flows"]).all()
    for stem in ["fig5_3_mean_slowdown", "fig5_6_websearch", "fig5_10_buffers"]:
        for ext in ["png", "svg", "csv"]:
            assert (out / "plots" / f"{stem}.{ext}").exists(), (stem, ext)
