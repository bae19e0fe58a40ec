"""Any trace file either runs or is refused with a DdclabError naming the
file: never another exception, a numpy warning or a panic. Rows are built
from tokens of every kind a hand-edited or generated trace may contain."""

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ddclab
from ddclab.errors import DdclabError

TOKENS = [
    "0", "1", "2", "7", "15", "100", "1500", "-1", "0.5", "1e3", "1e30", "1e300",
    "-1e300", "inf", "-inf", "nan", "NaN", "", " ", "abc", "0x10", "1_000",
    "4294967295", "4294967296", "9223372036854775807", "18446744073709551616",
    "9007199254740993", '"3"', "1,2",
]
COLUMNS = ["start_us", "src", "dst", "size", "tenant", "deadline_us", "priority"]

SCENARIO = """
[topology]
kind = "big-switch"
hosts = 16
[workload]
kind = "trace"
trace = "t.csv"
"""

row = st.lists(st.sampled_from(TOKENS), min_size=3, max_size=8).map(",".join)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.lists(st.sampled_from(COLUMNS), min_size=4, max_size=7, unique=True).map(",".join),
    rows=st.lists(row, min_size=1, max_size=4),
)
def test_garbage_traces_run_or_fail_cleanly(tmp_path, header, rows):
    (tmp_path / "t.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    (tmp_path / "s.toml").write_text(SCENARIO)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning means an unchecked value got through
        try:
            ddclab.simulate(tmp_path / "s.toml")
        except DdclabError as exc:
            assert "\n" not in str(exc)
            assert "t.csv" in str(exc) or "trace" in str(exc), str(exc)


@pytest.mark.parametrize(
    "rows, needle",
    [
        ("0,0,5,1e30\n", "size '1e30' is out of range"),
        ("0,inf,5,100\n", "src 'inf' is out of range"),
        ("1e300,0,5,100\n", "start_us '1e300' is out of range"),
        ("0,4294967296,5,100\n", "src '4294967296' is out of range"),
        ("0,0,5,100,,\n", "cannot read it"),
        ("0,0,5,100\n1,0,5,100,7\n", "Expected 4 fields in line 3"),
    ],
)
def test_out_of_range_and_ragged_rows(tmp_path, rows, needle):
    (tmp_path / "t.csv").write_text("start_us,src,dst,size\n" + rows)
    (tmp_path / "s.toml").write_text(SCENARIO)
    with pytest.raises(DdclabError, match=needle.replace("(", r"\(")):
        ddclab.simulate(tmp_path / "s.toml")


def test_an_out_of_range_tenant_names_the_file_and_row(tmp_path):
    # Found by the garbage-trace test above: the simulator's own check named
    # only "flow 0", not the file.
    (tmp_path / "t.csv").write_text("start_us,src,dst,size,tenant\n0,0,5,100,3\n0,0,5,100,1500\n")
    (tmp_path / "s.toml").write_text(SCENARIO)
    with pytest.raises(DdclabError, match=r"t\.csv line 3: tenant 1500 is out of range \(tenants are numbered 0\.\.1023\)"):
        ddclab.simulate(tmp_path / "s.toml")
