"""The latency-budget model (Table 4 of the OSDI 2016 disaggregation study) and
``ddclab budget``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddclab import budget
from ddclab.cli import main
from ddclab.errors import DdclabError

STUDY_TOTALS = "7.04 / 5.28 / 5.14 / 3.38 / 4.14 / 2.38"
PYTHON_DIR = Path(__file__).resolve().parents[1] / "python"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["budget", *args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


# --- the model ---------------------------------------------------------------------


def test_defaults_reproduce_the_study_table():
    result = budget.compute()
    assert result.headline() == STUDY_TOTALS
    expected = {
        ("baseline", "inter"): 7.0392,
        ("baseline", "intra"): 5.2792,
        ("rdma", "inter"): 5.1392,
        ("rdma", "intra"): 3.3792,
        ("rdma_nic", "inter"): 4.1392,
        ("rdma_nic", "intra"): 2.3792,
    }
    for key, total in result.totals().items():
        assert total == pytest.approx(expected[key], abs=1e-12), key


def test_cells_match_the_study_counts_and_values():
    result = budget.compute()
    # (component) -> (count, unit) on the baseline inter-rack column.
    inter = {t.component: (t.count, round(t.unit_us, 4)) for t in result.column("baseline", "inter").terms}
    assert inter == {
        "os": (2, 0.95),
        "data_copy": (2, 1.0),
        "switching": (6, 0.24),
        "propagation_inter": (4, 0.2),
        "propagation_intra": (4, 0.02),
        "transmission": (1, 0.8192),
    }
    intra = result.column("baseline", "intra")
    assert intra.term("switching").count == 2
    assert intra.term("propagation_inter").count == 0
    assert result.column("rdma", "inter").term("os").count == 0
    assert result.column("rdma_nic", "intra").term("data_copy").unit_us == 0.5


def test_every_term_carries_provenance():
    for col in budget.compute().columns:
        for term in col.terms:
            assert term.source and term.count_rule


def test_100_gbps_takes_about_half_a_microsecond_off():
    slow = budget.compute(40).totals()
    fast = budget.compute(100).totals()
    for key in slow:
        assert slow[key] - fast[key] == pytest.approx(4096 * 8 / 40e3 - 4096 * 8 / 100e3)
        assert 0.45 < slow[key] - fast[key] < 0.55


def test_class_verdicts_at_defaults():
    result = budget.compute()
    meets_a = {(c.technology, c.path) for c in result.meeting("A")}
    meets_b = {(c.technology, c.path) for c in result.meeting("B")}
    assert meets_a == {("rdma", "intra"), ("rdma_nic", "inter"), ("rdma_nic", "intra")}
    assert meets_b == {("rdma_nic", "intra")}


def test_target_equal_to_total_counts_as_met():
    # RDMA+NIC intra-rack is 2.3792 us; a target of exactly that is met.
    result = budget.compute(class_b_us=2.3792)
    assert result.column("rdma_nic", "intra").meets("B")
    assert not budget.compute(class_b_us=2.379).column("rdma_nic", "intra").meets("B")


def test_hops_and_distances_change_counts_and_values():
    result = budget.compute(switches_inter=5, inter_rack_m=100, intra_rack_m=2, ns_per_m=4)
    col = result.column("baseline", "inter")
    assert col.term("switching").count == 10
    assert col.term("propagation_inter").count == 8  # 4 switch-to-switch links each way
    assert col.term("propagation_inter").unit_us == pytest.approx(0.4)
    assert col.term("propagation_intra").unit_us == pytest.approx(0.008)
    # A direct blade-to-blade cable: no switch, one link each way.
    direct = budget.compute(switches_intra=0).column("rdma", "intra")
    assert direct.term("switching").count == 0
    assert direct.term("propagation_intra").count == 2


def test_switch_delay_and_page_size_knobs():
    base = budget.compute().column("rdma", "inter").total_us
    assert budget.compute(switch_us=0.5).column("rdma", "inter").total_us == pytest.approx(base + 6 * 0.26)
    big = budget.compute(page_bytes=8192).column("rdma", "inter")
    assert big.term("transmission").unit_us == pytest.approx(8192 * 8 / 40e3)


def test_overrides_plain_and_per_technology():
    result = budget.compute(overrides={"data_copy": 0.25, "rdma_nic.data_copy": 0.1, "os": 2})
    assert result.column("baseline", "inter").term("data_copy").unit_us == 0.25
    assert result.column("rdma", "intra").term("data_copy").unit_us == 0.25
    assert result.column("rdma_nic", "inter").term("data_copy").unit_us == 0.1
    assert result.column("baseline", "intra").term("os").total_us == 4
    # The count is structural: overriding the OS cost does not give RDMA an OS term.
    assert result.column("rdma", "intra").term("os").total_us == 0
    assert "override" in result.column("rdma_nic", "inter").term("data_copy").source


def test_transmission_override_ignores_link_speed():
    result = budget.compute(100, overrides={"transmission": 1.0})
    assert result.column("baseline", "inter").term("transmission").unit_us == 1.0


@settings(max_examples=60, deadline=None)
@given(
    link=st.floats(1, 1000),
    page=st.integers(1, 1 << 20),
    sw_inter=st.integers(2, 9),
    sw_intra=st.integers(0, 4),
    switch_us=st.floats(0, 5),
)
def test_total_is_sum_of_terms_and_technologies_are_ordered(link, page, sw_inter, sw_intra, switch_us):
    result = budget.compute(
        link, page_bytes=page, switches_inter=sw_inter, switches_intra=sw_intra, switch_us=switch_us
    )
    for col in result.columns:
        assert math.isclose(col.total_us, sum(t.count * t.unit_us for t in col.terms))
    for path in budget.PATHS:
        # RDMA removes the OS; NIC integration halves the copy: never slower.
        b, r, n = (result.column(t, path).total_us for t in budget.TECHNOLOGIES)
        assert b >= r >= n
    # An inter-rack path crosses at least as many switches as an intra-rack one here.
    if sw_inter >= sw_intra:
        assert result.column("rdma", "inter").total_us >= result.column("rdma", "intra").total_us


def test_to_dict_and_dataframe_are_consistent():
    result = budget.compute()
    doc = result.to_dict()
    assert [c["total_us_2dp"] for c in doc["columns"]] == STUDY_TOTALS.split(" / ")
    frame = result.to_dataframe()
    assert len(frame) == 6 * 6
    sums = frame.groupby(["technology", "path"], sort=False)["total_us"].sum()
    assert sums[("baseline", "inter")] == pytest.approx(7.0392)


@pytest.mark.parametrize(
    "kwargs, option",
    [
        ({"link_gbps": 0}, "--link-gbps"),
        ({"link_gbps": -40}, "--link-gbps"),
        ({"link_gbps": float("nan")}, "--link-gbps"),
        ({"inter_rack_m": -1}, "--inter-rack-m"),
        ({"intra_rack_m": -0.5}, "--intra-rack-m"),
        ({"switches_inter": 1}, "--switches-inter"),
        ({"switches_intra": 1.5}, "--switches-intra"),
        ({"page_bytes": 0}, "--page-bytes"),
        ({"switch_us": -0.1}, "--switch-us"),
        ({"ns_per_m": 0}, "--ns-per-m"),
        ({"class_a_us": 0}, "--class-a-us"),
        ({"overrides": {"dram": 1}}, "unknown component 'dram'"),
        ({"overrides": {"infiniband.os": 1}}, "unknown technology 'infiniband'"),
        ({"overrides": {"os": -1}}, "--override os"),
        ({"overrides": {"os": "fast"}}, "--override os"),
    ],
)
def test_bad_input_names_the_option(kwargs, option):
    with pytest.raises(DdclabError) as exc:
        budget.compute(**kwargs)
    assert option in str(exc.value)
    assert "\n" not in str(exc.value)


# --- the command -------------------------------------------------------------------


def test_cli_prints_the_study_totals_and_provenance(capsys):
    code, out, err = run_cli(capsys)
    assert code == 0, err
    assert STUDY_TOTALS in out
    for label in budget.COMPONENTS.values():
        assert label in out
    assert "2 × 0.95" in out and "6 × 0.24" in out and "1 × 0.82" in out
    assert "Provenance" in out and "Table 4" in out
    assert "class A (5 µs) is met by: RDMA, intra-rack;" in out
    assert "class B (3 µs) is met by: RDMA + NIC integration, intra-rack" in out


def test_cli_knobs_and_overrides(capsys):
    code, out, _ = run_cli(capsys, "--link-gbps", "100", "--override", "rdma_nic.data_copy=0.25")
    assert code == 0
    expected = budget.compute(100, overrides={"rdma_nic.data_copy": 0.25}).headline()
    assert expected in out
    assert "2 × 0.25" in out
    # The provenance table wraps its cells, so look for the words, not the line.
    assert "override" in out and "rdma_nic.data_copy=0.25" in out


def test_cli_json(capsys):
    code, out, _ = run_cli(capsys, "--json", "--switch-us", "0.3")
    assert code == 0
    doc = json.loads(out)
    assert doc["params"]["switch_us"] == 0.3
    col = doc["columns"][0]
    assert (col["technology"], col["path"]) == ("baseline", "inter")
    sw = next(c for c in col["components"] if c["component"] == "switching")
    assert (sw["count"], sw["unit_us"]) == (6, 0.3)
    assert "--switch-us" in sw["source"]
    assert col["total_us"] == pytest.approx(7.0392 + 6 * 0.06)
    assert set(col["meets"]) == {"A", "B"}


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--link-gbps", "0"], "--link-gbps"),
        (["--link-gbps", "fast"], "--link-gbps"),
        (["--inter-rack-m", "-10"], "--inter-rack-m"),
        (["--override", "tcam=1"], "unknown component 'tcam'"),
        (["--override", "os"], "--override 'os'"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(capsys, args, needle):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert err.startswith("error: ") and needle in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_python_dash_m_entry_point():
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ok = subprocess.run(
        [sys.executable, "-m", "ddclab", "budget"], capture_output=True, text=True, env=env, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert STUDY_TOTALS in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "ddclab", "budget", "--link-gbps", "0"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert "--link-gbps" in bad.stderr
