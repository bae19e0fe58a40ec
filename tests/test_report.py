"""The report toolkit: files, self-contained HTML, determinism, atomicity, and
that every CSV holds the numbers its figure shows."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ddclab.errors import DdclabError
from ddclab.report import (
    HtmlReport,
    bar_chart,
    drops_by_hop,
    fct_vs_size,
    format_value,
    line_chart,
    pending_over_time,
    slowdown_by_size,
    slowdown_cdf,
    write_sim_report,
)

PYTHON_DIR = Path(__file__).resolve().parents[1] / "python"
SIM_PLOTS = ["slowdown_cdf", "slowdown_by_size", "fct_vs_size", "pending_bytes", "drops_by_hop"]


def make_flows(n: int = 400, seed: int = 7, incomplete: int = 3) -> pd.DataFrame:
    """A synthetic flows table with the simulator's columns."""
    rng = np.random.default_rng(seed)
    size = np.round(rng.pareto(1.2, n) * 3000 + 64).astype(np.int64)
    opt = size * 8 / 40e3 + 2.0
    slowdown = 1.0 + rng.exponential(0.7, n)
    start = np.sort(rng.uniform(0, 500, n))
    completed = np.ones(n, dtype=bool)
    completed[:incomplete] = False
    fct = np.where(completed, opt * slowdown, np.nan)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "src": rng.integers(0, 144, n),
            "dst": rng.integers(0, 144, n),
            "size_bytes": size,
            "start_us": start,
            "finish_us": start + fct,
            "fct_us": fct,
            "opt_us": opt,
            "slowdown": np.where(completed, slowdown, np.nan),
            "retransmits": rng.integers(0, 3, n),
            "drops": rng.integers(0, 2, n),
            "tenant": rng.integers(0, 2, n),
            "deadline_us": np.nan,
            "completed": completed,
        }
    )


def make_summary(wall_s: float = 0.25) -> dict:
    return {
        "protocol": "dctcp",
        "flows": 400,
        "completed": 397,
        "mean_slowdown": 1.71,
        "median_slowdown": 1.49,
        "p99_slowdown": 4.8,
        "p999_slowdown": 6.1,
        "normalized_fct": 1.6,
        "throughput_gbps": 33.3,
        "by_class": {
            "short": {"count": 300, "mean_slowdown": 1.8, "p99_slowdown": 4.9},
            "medium": {"count": 90, "mean_slowdown": 1.5, "p99_slowdown": 3.1},
            "long": {"count": 7, "mean_slowdown": 1.1, "p99_slowdown": 1.3},
        },
        "drops": {"host_nic": 0, "tor_up": 4, "spine": 1, "tor_down": 9},
        "retransmissions": 14,
        "sim_time_us": 812.5,
        "wall_s": wall_s,
        "events": 98765,
        "packets": 4321,
    }


def make_pending() -> pd.DataFrame:
    t = np.arange(0.0, 800.0, 1.0)
    return pd.DataFrame({"time_us": t, "pending_bytes": np.abs(np.sin(t / 40.0)) * 5e4})


SCENARIO = '[topology]\nkind = "leaf-spine"  # <script>alert(1)</script>\n'


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(root: Path) -> list[str]:
    """Temporary files ddclab.atomic would leave if a write were not atomic."""
    return [str(p) for p in root.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def sim_report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "run"
    write_sim_report(out, make_flows(), make_summary(), make_pending(), SCENARIO)
    return out


# --- the simulation report ------------------------------------------------------------


def test_sim_report_writes_every_file(sim_report_dir):
    files = all_files(sim_report_dir)
    assert "report.html" in files
    for name in SIM_PLOTS:
        for ext in ("png", "svg", "csv"):
            assert f"plots/{name}.{ext}" in files, (name, ext)
    assert files["plots/slowdown_cdf.png"].startswith(b"\x89PNG")
    assert b"<svg" in files["plots/slowdown_cdf.svg"]
    assert leftovers(sim_report_dir) == []


def test_html_is_self_contained_and_embeds_the_saved_pngs(sim_report_dir):
    page = (sim_report_dir / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page.lower().replace("&lt;script", "")  # the scenario's text is escaped
    assert "<link" not in page.lower()
    assert "@import" not in page
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(sources) == len(SIM_PLOTS)
    embedded = [base64.b64decode(s.split(",", 1)[1]) for s in sources]
    for name in SIM_PLOTS:
        assert (sim_report_dir / "plots" / f"{name}.png").read_bytes() in embedded


def test_html_shows_the_tables_scenario_and_method(sim_report_dir):
    page = (sim_report_dir / "report.html").read_text(encoding="utf-8")
    assert "Simulation report: dctcp" in page
    assert "99th-percentile slowdown" in page and ">4.8<" in page
    assert ">medium<" in page and ">3.1<" in page  # per-class table
    assert ">tor_down<" in page and ">9<" in page  # drops table
    assert "Slowdown by tenant" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "FCT / OPT" in page
    assert "wall_s" not in page and ">0.25<" not in page  # wall-clock time stays out of the page


def test_same_input_gives_identical_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_sim_report(a, make_flows(), make_summary(wall_s=0.25), make_pending(), SCENARIO)
    # A rerun differs only in wall-clock time, which the page leaves out.
    write_sim_report(b, make_flows(), make_summary(wall_s=9.75), make_pending(), SCENARIO)
    fa, fb = all_files(a), all_files(b)
    assert fa.keys() == fb.keys()
    for name in fa:
        assert fa[name] == fb[name], name


def test_identical_bytes_across_processes(tmp_path):
    """Ids and hashes must not depend on the process (hash seed, object ids)."""
    code = (
        "import sys, pandas as pd, numpy as np\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from test_report import make_flows, make_summary, make_pending, SCENARIO\n"
        "from ddclab.report import write_sim_report\n"
        "write_sim_report(sys.argv[1], make_flows(), make_summary(), make_pending(), SCENARIO)\n"
    )
    outs = []
    for i, seed in enumerate(["1", "2"]):
        out = tmp_path / f"p{i}"
        env = dict(os.environ, PYTHONHASHSEED=seed,
                   PYTHONPATH=str(PYTHON_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        done = subprocess.run([sys.executable, "-c", code, str(out), str(Path(__file__).parent)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        outs.append(all_files(out))
    assert outs[0] == outs[1]


def test_failed_report_leaves_previous_one_intact(tmp_path):
    out = tmp_path / "run"
    write_sim_report(out, make_flows(), make_summary(), make_pending(), SCENARIO)
    before = all_files(out)
    with pytest.raises(DdclabError, match="slowdown"):
        write_sim_report(out, make_flows().drop(columns=["slowdown"]), make_summary(), None, "")
    assert all_files(out) == before
    assert leftovers(out) == []


def test_figures_with_nothing_to_show_are_omitted_with_a_note(tmp_path):
    flows = make_flows(n=20, incomplete=20)
    summary = {"protocol": "tcp", "flows": 20, "completed": 0}
    result = write_sim_report(tmp_path / "r", flows, summary)
    assert set(result.omitted) == {"slowdown_cdf", "slowdown_by_size", "fct_vs_size"}
    assert result.plots == {}
    page = result.html.read_text(encoding="utf-8")
    assert "Figure slowdown_cdf omitted" in page
    assert "no completed flows" in page


def test_bad_inputs_name_what_is_wrong(tmp_path):
    with pytest.raises(DdclabError, match="fct_us"):
        write_sim_report(tmp_path, make_flows().drop(columns=["fct_us"]), make_summary())
    with pytest.raises(DdclabError, match="pending_bytes"):
        write_sim_report(tmp_path, make_flows(), make_summary(), pd.DataFrame({"time_us": [1.0]}))
    with pytest.raises(DdclabError, match="summary"):
        write_sim_report(tmp_path, make_flows(), [1, 2])


def test_arrow_backed_flows_from_parquet_give_the_same_numbers(tmp_path):
    """flows.parquet may be read with Arrow dtypes, where missing values are pd.NA."""
    flows = make_flows(n=150, incomplete=4)
    arrow = flows.convert_dtypes(dtype_backend="pyarrow")
    assert arrow["slowdown"].isna().sum() == 4
    for build in (slowdown_cdf, slowdown_by_size, fct_vs_size):
        expected, got = build(flows).data, build(arrow).data
        assert np.allclose(got.to_numpy(dtype=float), expected.to_numpy(dtype=float)), build.__name__
    result = write_sim_report(tmp_path / "r", arrow, make_summary(), make_pending())
    assert result.omitted == {}


# --- each simulation figure's numbers ----------------------------------------------------


def test_slowdown_cdf_exact_for_small_runs():
    flows = make_flows(n=200, incomplete=5)
    plot = slowdown_cdf(flows)
    done = flows.loc[flows["completed"], "slowdown"].to_numpy()
    assert len(plot.data) == len(done)
    assert np.array_equal(plot.data["slowdown"].to_numpy(), np.sort(done))
    assert plot.data["cdf"].iloc[-1] == 1.0
    assert "5 flow(s) that did not complete" in plot.caption


def test_slowdown_cdf_reduced_for_large_runs_keeps_the_tail():
    flows = make_flows(n=12000, incomplete=0)
    data = slowdown_cdf(flows).data
    assert len(data) < 2000
    s = flows["slowdown"].to_numpy()
    p99 = data.loc[np.isclose(data["cdf"], 0.99), "slowdown"].iloc[0]
    assert p99 == pytest.approx(np.quantile(s, 0.99))
    assert data["slowdown"].iloc[-1] == s.max()
    assert (np.diff(data["cdf"]) > 0).all() and (np.diff(data["slowdown"]) >= 0).all()


def test_slowdown_by_size_buckets():
    flows = make_flows(n=500, incomplete=4)
    data = slowdown_by_size(flows, bins=6).data
    done = flows[flows["completed"]]
    assert data["flows"].sum() == len(done)
    assert len(data) <= 6
    ratios = (data["size_hi_bytes"] / data["size_lo_bytes"]).to_numpy()
    assert np.allclose(ratios[:-1], ratios[0])  # log-spaced (the last edge is nudged up)
    first = data.iloc[0]
    inside = done[(done["size_bytes"] >= first["size_lo_bytes"]) & (done["size_bytes"] < first["size_hi_bytes"])]
    assert first["mean_slowdown"] == pytest.approx(inside["slowdown"].mean())
    assert first["p99_slowdown"] == pytest.approx(np.quantile(inside["slowdown"], 0.99))
    with pytest.raises(DdclabError, match="bins"):
        slowdown_by_size(flows, bins=0)


def test_fct_scatter_is_a_seeded_sample_for_large_runs():
    flows = make_flows(n=600, incomplete=0)
    a = fct_vs_size(flows, max_points=100).data
    b = fct_vs_size(flows, max_points=100).data
    assert len(a) == 100 and a.equals(b)
    assert set(a["id"]) <= set(flows["id"])
    joined = a.merge(flows, on="id", suffixes=("", "_all"))
    assert np.array_equal(joined["fct_us"], joined["fct_us_all"])
    assert len(fct_vs_size(flows).data) == 600


def test_pending_reduction_keeps_the_peak():
    t = np.arange(10000, dtype=float)
    v = np.zeros_like(t)
    v[4321] = 7e6  # a single spike must survive
    data = pending_over_time(pd.DataFrame({"time_us": t, "pending_bytes": v}), max_points=50).data
    assert len(data) <= 50
    assert data["pending_bytes"].max() == 7e6
    small = pending_over_time(make_pending()).data
    assert len(small) == len(make_pending())


def test_drops_by_hop_keeps_order_and_values():
    drops = {"host_nic": 1, "tor_up": 0, "spine": 5, "tor_down": 2}
    data = drops_by_hop(drops).data
    assert list(data["hop"]) == list(drops)
    assert list(data["drops"]) == [1.0, 0.0, 5.0, 2.0]
    zero = drops_by_hop({"spine": 0})
    assert zero.png_bytes().startswith(b"\x89PNG")
    with pytest.raises(DdclabError):
        drops_by_hop({})


def test_plot_save_writes_three_files_atomically(tmp_path):
    plot = drops_by_hop({"a": 1, "b": 2})
    saved = plot.save(tmp_path / "figs")
    assert saved.png.read_bytes() == plot.png_bytes()
    assert saved.svg.read_bytes() == plot.svg_bytes()
    assert saved.csv.read_text() == "hop,drops\na,1.0\nb,2.0\n"
    assert b"<dc:date>" not in plot.svg_bytes()
    assert leftovers(tmp_path) == []


def test_plot_names_cannot_escape_the_folder():
    for bad in ["../x", "a/b", "", ".hidden", "x."]:
        with pytest.raises(DdclabError, match="plot name"):
            drops_by_hop({"a": 1}, name=bad)


# --- comparison figures ------------------------------------------------------------------


def comparison_table() -> pd.DataFrame:
    rows = []
    for w, workload in enumerate(["websearch", "datamining", "imc10"]):
        for p, protocol in enumerate(["tcp", "dctcp", "pfabric", "phost"]):
            rows.append({"workload": workload, "protocol": protocol, "mean_slowdown": 1 + w + p / 4,
                         "ci": 0.1})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=3)  # order must not matter... except first-seen


def test_bar_chart_dumps_its_numbers_in_plot_order(tmp_path):
    df = comparison_table()
    plot = bar_chart(df, "workload", "protocol", "mean_slowdown", name="mean_slowdown",
                     hue_order=["tcp", "dctcp", "pfabric", "phost"],
                     x_order=["websearch", "datamining", "imc10"], err="ci", out_dir=tmp_path)
    csv = pd.read_csv(tmp_path / "mean_slowdown.csv")
    assert list(csv.columns) == ["workload", "protocol", "mean_slowdown", "ci"]
    assert list(csv["protocol"][:3]) == ["tcp"] * 3
    assert list(csv["workload"][:3]) == ["websearch", "datamining", "imc10"]
    merged = csv.merge(df, on=["workload", "protocol"], suffixes=("", "_in"))
    assert np.allclose(merged["mean_slowdown"], merged["mean_slowdown_in"]) and len(merged) == 12
    assert (tmp_path / "mean_slowdown.png").read_bytes() == plot.png_bytes()
    assert (tmp_path / "mean_slowdown.svg").exists()
    again = bar_chart(df, "workload", "protocol", "mean_slowdown", name="mean_slowdown",
                      hue_order=["tcp", "dctcp", "pfabric", "phost"],
                      x_order=["websearch", "datamining", "imc10"], err="ci")
    assert again.png_bytes() == plot.png_bytes() and again.svg_bytes() == plot.svg_bytes()


def test_bar_chart_without_hue_and_bad_inputs():
    df = pd.DataFrame({"protocol": ["tcp", "phost"], "p99": [12.0, 3.5]})
    assert len(bar_chart(df, "protocol", None, "p99", name="p99", log_y=True).data) == 2
    with pytest.raises(DdclabError, match="'load'"):
        bar_chart(df, "load", None, "p99", name="x")
    with pytest.raises(DdclabError, match="more than one row"):
        bar_chart(pd.concat([df, df]), "protocol", None, "p99", name="x")
    with pytest.raises(DdclabError, match="hue_order|x_order"):
        bar_chart(df, "protocol", None, "p99", name="x", x_order=["tcp"])
    with pytest.raises(DdclabError, match="no rows"):
        bar_chart(df.iloc[:0], "protocol", None, "p99", name="x")


def test_line_chart_sorts_by_x_within_each_series(tmp_path):
    df = pd.DataFrame(
        {
            "load": [0.8, 0.2, 0.5, 0.5, 0.8, 0.2],
            "protocol": ["phost", "phost", "phost", "pfabric", "pfabric", "pfabric"],
            "p99": [9.0, 2.0, 4.0, 3.0, 7.0, 1.5],
        }
    )
    plot = line_chart(df, "load", "protocol", "p99", name="p99_vs_load", out_dir=tmp_path)
    assert list(plot.data["protocol"]) == ["phost"] * 3 + ["pfabric"] * 3
    assert list(plot.data["load"]) == [0.2, 0.5, 0.8, 0.2, 0.5, 0.8]
    assert list(plot.data["p99"]) == [2.0, 4.0, 9.0, 1.5, 3.0, 7.0]
    assert (tmp_path / "p99_vs_load.csv").read_text().splitlines()[1] == "0.2,phost,2.0"
    with pytest.raises(DdclabError, match="numeric"):
        line_chart(df.assign(load=df["load"].astype(str)), "load", "protocol", "p99", name="x")


def test_line_chart_draws_a_low_high_range_around_each_value(tmp_path):
    df = pd.DataFrame({"lat": [1.0, 5.0], "deg": [2.0, 10.0], "lo": [-3.0, 8.0], "hi": [4.0, 30.0]})
    plot = line_chart(df, "lat", None, "deg", name="deg", err=("lo", "hi"), out_dir=tmp_path)
    assert list(pd.read_csv(tmp_path / "deg.csv").columns) == ["lat", "deg", "lo", "hi"]
    (bars,) = plot.figure.axes[0].containers[0].lines[2]
    ends = [(seg[0][1], seg[1][1]) for seg in bars.get_segments()]
    assert ends == [(-3.0, 4.0), (8.0, 30.0)]
    with pytest.raises(DdclabError, match="err high column 'nope'"):
        line_chart(df, "lat", None, "deg", name="x", err=("lo", "nope"))


# --- the HTML builder --------------------------------------------------------------------


def test_html_builder_escapes_and_formats(tmp_path):
    page = HtmlReport("A & B <test>", "sub")
    page.heading("Results").heading("Results")  # duplicate headings get distinct anchors
    page.paragraph("x < y")
    page.table(pd.DataFrame({"name": ["<b>"], "value": [1234.5678], "n": [3], "ok": [True]}), "cap")
    page.key_values({"nan": float("nan"), "small": 0.000123456})
    path = page.write(tmp_path / "p.html")
    text = path.read_text(encoding="utf-8")
    assert "<title>A &amp; B &lt;test&gt;</title>" in text
    assert 'id="results"' in text and 'id="results-2"' in text
    assert "x &lt; y" in text and "&lt;b&gt;" in text
    assert '<td class="num">1234.6</td>' in text and '<td class="num">3</td>' in text
    assert "<td>yes</td>" in text and "<td class=\"num\">0.0001235</td>" in text and "<td class=\"num\">–</td>" in text
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "value, shown",
    [(None, "–"), (float("nan"), "–"), (3, "3"), (np.int64(7), "7"), (2.0, "2"), (1.23456, "1.235"),
     (12345.67, "12345.7"), (True, "yes"), (np.bool_(False), "no"), ("tcp", "tcp"), (float("inf"), "∞")],
)
def test_format_value(value, shown):
    assert format_value(value) == shown


def test_series_with_error_bars_are_drawn_apart_but_saved_at_their_x(tmp_path):
    df = pd.DataFrame({"lat": [1.0, 1.0], "app": ["a", "b"], "deg": [2.0, 3.0], "lo": [1.0, 2.0], "hi": [3.0, 4.0]})
    plot = line_chart(df, "lat", "app", "deg", name="d", err=("lo", "hi"), log_x=True, out_dir=tmp_path)
    xs = [c.lines[0].get_xdata()[0] for c in plot.figure.axes[0].containers]
    assert xs[0] < 1.0 < xs[1] and xs[1] / 1.0 < 1.05
    assert list(pd.read_csv(tmp_path / "d.csv")["lat"]) == [1.0, 1.0]
