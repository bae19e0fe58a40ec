"""`ddclab sim run`: outputs and every error path (one line, exit code 2)."""

import json
from pathlib import Path

import pytest

from .conftest import SMALL


def one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr and "panicked" not in proc.stderr, proc.stderr
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def test_run_writes_results_and_report(small, tmp_path, cli):
    out = tmp_path / "out"
    p = cli("sim", "run", str(small), "--out", str(out))
    assert p.returncode == 0, p.stderr
    for name in ["flows.parquet", "summary.json", "pending.parquet", "ports.parquet", "scenario.toml", "run.json", "report.html"]:
        assert (out / name).exists(), name
    assert list((out / "plots").glob("*.png")) and list((out / "plots").glob("*.svg"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["flows"] == 200
    assert "mean slowdown" in p.stdout


def test_same_seed_byte_identical_flows(small, tmp_path, cli):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("sim", "run", str(small), "--out", str(a), "-q", "--no-report").returncode == 0
    assert cli("sim", "run", str(small), "--out", str(b), "-q", "--no-report").returncode == 0
    assert (a / "flows.parquet").read_bytes() == (b / "flows.parquet").read_bytes()
    c = tmp_path / "c"
    assert cli("sim", "run", str(small), "--out", str(c), "-q", "--no-report", "--set", "seed=4").returncode == 0
    assert (a / "flows.parquet").read_bytes() != (c / "flows.parquet").read_bytes()


@pytest.mark.parametrize(
    "edit, needles",
    [
        (("load = 0.5", "load = 0.5\nbogus = 1"), ["line 14", "bogus"]),
        (('protocol = "dctcp"', 'protocol = "quic"'), ["line 10", "unknown protocol", "quic"]),
        (("load = 0.5", "load = 0"), ["line 13", "workload.load", "> 0"]),
        (("load = 0.5", "load = -0.3"), ["workload.load"]),
        (('host_rate = "10Gbps"', 'host_rate = "fast"'), ["line 8", "invalid rate"]),
        (("flows = 200", "flows = 0"), ["workload.flows"]),
        (("spines = 2", "spines = 0"), ["topology.spines"]),
        (
            ('protocol = "dctcp"', 'protocol = "phost"\ndelayed_ack = "40us"'),
            ["transport.delayed_ack", "tcp and dctcp only"],
        ),
    ],
)
def test_scenario_errors(small, tmp_path, cli, edit, needles):
    small.write_text(SMALL.replace(*edit))
    p = cli("sim", "run", str(small), "--out", str(tmp_path / "o"))
    one_line_error(p, str(small.name), *needles)
    assert not (tmp_path / "o" / "flows.parquet").exists()


def test_unstable_load_warns_but_runs(small, tmp_path, cli):
    small.write_text(SMALL.replace("load = 0.5", "load = 1.2").replace("flows = 200", "flows = 40"))
    p = cli("sim", "run", str(small), "--out", str(tmp_path / "o"), "-q")
    assert p.returncode == 0, p.stderr
    assert "warning:" in p.stderr and "unstable" in p.stderr


def test_missing_scenario_file(tmp_path, cli):
    p = cli("sim", "run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o"))
    assert p.returncode == 2
    assert "Traceback" not in p.stderr


def test_bad_set(small, tmp_path, cli):
    one_line_error(cli("sim", "run", str(small), "--out", str(tmp_path / "o"), "--set", "workload.load"), "KEY=VALUE")
    one_line_error(cli("sim", "run", str(small), "--out", str(tmp_path / "o"), "--set", "workload.nope=3"), "--set", "nope")


@pytest.mark.parametrize(
    "cdf, needles",
    [
        ("1 1 0\n10 1 0.5\n5 1 1.0\n", ["line 3", "sizes must not decrease"]),
        ("1 1 0\n10 1 0.5\n20 1 0.4\n30 1 1\n", ["line 3", "probabilities must not decrease"]),
        ("1 1 0\nten 1 0.5\n20 1 1\n", ["line 2", "not a number"]),
        ("1 1 0\n10 1 0.5\n", ["must be 1"]),
        ("1 1 0 7 8\n", ["line 1", "columns"]),
    ],
)
def test_bad_cdf_files(small, tmp_path, cli, cdf, needles):
    (tmp_path / "my.cdf").write_text(cdf)
    small.write_text(SMALL.replace('sizes = "imc10"', 'sizes = "my.cdf"'))
    one_line_error(cli("sim", "run", str(small), "--out", str(tmp_path / "o")), "my.cdf", *needles)


def test_custom_cdf_runs(small, tmp_path, cli):
    (tmp_path / "my.cdf").write_text("1 1 0\n10 1 0.5\n100 1 1\n")
    small.write_text(SMALL.replace('sizes = "imc10"', 'sizes = "my.cdf"'))
    p = cli("sim", "run", str(small), "--out", str(tmp_path / "o"), "-q", "--no-report")
    assert p.returncode == 0, p.stderr


def test_unknown_sizes_name(small, tmp_path, cli):
    small.write_text(SMALL.replace('sizes = "imc10"', 'sizes = "websarch"'))
    one_line_error(cli("sim", "run", str(small), "--out", str(tmp_path / "o")), "websarch", "built-in")


@pytest.mark.parametrize(
    "rows, needles",
    [
        ("0,0,5,1000\n1,0,5,abc\n", ["line 3", "size", "not a number"]),
        ("0,0,5,1000\n1,0,99,1000\n", ["line 3", "out of range"]),
        ("0,0,5,1000\n1,0,5,0\n", ["line 3", "size is 0"]),
        ("0,3,3,1000\n", ["line 2", "same host"]),
        ("0,0,5,1000\n-1,0,5,10\n", ["line 3", "start_us"]),
        ("0,0,5,1.5\n", ["line 2", "whole number"]),
    ],
)
def test_bad_trace_rows(small, tmp_path, cli, rows, needles):
    (tmp_path / "t.csv").write_text("start_us,src,dst,size\n" + rows)
    small.write_text(SMALL.replace('sizes = "imc10"', 'kind = "trace"\ntrace = "t.csv"'))
    one_line_error(cli("sim", "run", str(small), "--out", str(tmp_path / "o")), "t.csv", *needles)


def test_trace_missing_column(small, tmp_path, cli):
    (tmp_path / "t.csv").write_text("start_us,src,size\n0,0,100\n")
    small.write_text(SMALL.replace('sizes = "imc10"', 'kind = "trace"\ntrace = "t.csv"'))
    one_line_error(cli("sim", "run", str(small), "--out", str(tmp_path / "o")), "missing column", "dst")


def test_check_and_protocols(small, cli):
    p = cli("sim", "check", str(small))
    assert p.returncode == 0 and "ok" in p.stdout
    p = cli("sim", "protocols")
    assert p.returncode == 0 and "dctcp" in p.stdout.split()


def test_examples_are_valid(cli):
    root = Path(__file__).resolve().parents[2]
    for ex in sorted((root / "examples").glob("*.toml")):
        p = cli("sim", "check", str(ex))
        assert p.returncode == 0, (ex, p.stderr)
