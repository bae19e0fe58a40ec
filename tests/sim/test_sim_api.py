"""ddclab.simulate and Result: the Python API of the simulator."""

import math

import pandas as pd
import pytest

import ddclab
from ddclab import DdclabError

from .conftest import SMALL

FLOW_COLUMNS = [
    "id", "src", "dst", "size_bytes", "start_us", "finish_us", "fct_us", "opt_us",
    "slowdown", "retransmits", "drops", "tenant", "deadline_us", "completed",
]


def test_simulate_text_returns_flows_and_summary():
    r = ddclab.simulate(SMALL)
    assert list(r.flows.columns) == FLOW_COLUMNS
    assert len(r.flows) == 200
    assert r.flows["completed"].all()
    # FCT >= OPT for every flow, and slowdown = FCT / OPT.
    assert (r.flows["fct_us"] >= r.flows["opt_us"] - 1e-9).all()
    assert ((r.flows["slowdown"] - r.flows["fct_us"] / r.flows["opt_us"]).abs() < 1e-9).all()
    s = r.summary
    assert s["protocol"] == "dctcp" and s["flows"] == 200 and s["completed"] == 200
    assert s["mean_slowdown"] >= 1.0
    assert set(s["by_class"]) == {"short", "medium", "long"}
    assert set(s["drops"]) == {"host_nic", "tor_up", "spine", "tor_down"}
    assert list(r.pending.columns) == ["time_us", "pending_bytes"]
    assert len(r.ports) == 2 * (8 + 2 * 2)


def test_simulate_dict_and_overrides_agree():
    d = {
        "seed": 3,
        "topology": {"kind": "leaf-spine", "racks": 2, "hosts_per_rack": 4, "spines": 2, "host_rate": "10Gbps"},
        "transport": {"protocol": "dctcp"},
        "workload": {"sizes": "imc10", "load": 0.5, "flows": 200},
    }
    a = ddclab.simulate(d)
    b = ddclab.simulate(SMALL)
    pd.testing.assert_frame_equal(a.flows, b.flows)
    c = ddclab.simulate(SMALL, overrides=["workload.load=0.2"])
    assert not c.flows["start_us"].equals(b.flows["start_us"])


def test_bad_scenario_raises_one_line_error():
    with pytest.raises(DdclabError) as e:
        ddclab.simulate(SMALL.replace("load = 0.5", "load = 0.5\nlaod = 1"))
    msg = str(e.value)
    assert "line" in msg and "laod" in msg and "\n" not in msg


def test_trace_workload(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("start_us,src,dst,size,tenant\n0,0,5,1460,1\n1.5,1,5,100000,2\n3,2,6,5000000,1\n")
    sc = tmp_path / "s.toml"
    sc.write_text(SMALL.replace('sizes = "imc10"', 'kind = "trace"\ntrace = "t.csv"'))
    r = ddclab.simulate(sc)
    assert list(r.flows["size_bytes"]) == [1460, 100000, 5000000]
    assert list(r.flows["tenant"]) == [1, 2, 1]
    assert r.flows["completed"].all()
    # A parquet trace gives the same flows.
    pq = tmp_path / "t.parquet"
    pd.read_csv(trace).to_parquet(pq)
    sc.write_text(SMALL.replace('sizes = "imc10"', 'kind = "trace"\ntrace = "t.parquet"'))
    r2 = ddclab.simulate(sc)
    pd.testing.assert_frame_equal(r.flows, r2.flows)


def test_result_write_is_deterministic(tmp_path):
    r1 = ddclab.simulate(SMALL)
    r2 = ddclab.simulate(SMALL)
    a, b = tmp_path / "a", tmp_path / "b"
    r1.write(a, report=False)
    r2.write(b, report=False)
    for name in ["flows.parquet", "summary.json", "pending.parquet", "ports.parquet", "scenario.toml"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    back = pd.read_parquet(a / "flows.parquet")
    pd.testing.assert_frame_equal(back, r1.flows)
    assert not list(a.glob(".*.tmp"))


def test_unstable_load_warns():
    r = ddclab.simulate(SMALL.replace("load = 0.5", "load = 1.1").replace("flows = 200", "flows = 50"))
    assert any("unstable" in w for w in r.warnings)


def test_deadlines_are_at_least_125_percent_of_opt():
    r = ddclab.simulate(SMALL.replace("flows = 200", 'flows = 200\ndeadline_mean = "1000us"'))
    d = r.flows
    assert (d["deadline_us"] >= 1.25 * d["opt_us"] - 1e-6).all()
    assert 0.0 <= r.summary["deadlines_met"] <= 1.0
    assert not math.isnan(r.summary["deadlines_met"])
