"""Unit parsing, the runtime-vs-delay fit, stats histograms and FCT names."""

from __future__ import annotations

import pytest

from ddclab.emu import fit, runner, stats, units
from ddclab.errors import DdclabError


def test_latency_units():
    assert units.latency_ns("5us") == 5000
    assert units.latency_ns("500ns") == 500
    assert units.latency_ns("1.5ms") == 1_500_000
    assert units.latency_ns("2") == 2000  # bare number: microseconds
    with pytest.raises(DdclabError, match="negative"):
        units.latency_ns("-1us")
    with pytest.raises(DdclabError, match="unit"):
        units.latency_ns("5 parsecs")


def test_bandwidth_and_sizes():
    assert units.bandwidth_bps("40Gbps") == 40_000_000_000
    assert units.bandwidth_bps("100G") == 100_000_000_000
    assert units.bandwidth_bps("0") == 0
    assert units.size_bytes("2GiB") == 2 << 30
    assert units.local_spec("25%") == ("percent", 25.0)
    assert units.local_spec("100%") == ("percent", 100.0)
    assert units.local_spec("1MiB") == ("bytes", float(1 << 20))
    for bad in ("0%", "100.5%", "-3%", "abc%"):
        with pytest.raises(DdclabError):
            units.local_spec(bad)


def test_fit_recovers_a_line():
    f = fit.fit([0, 1, 2, 5], [10.0, 10.5, 11.0, 12.5])
    assert f.intercept_s == pytest.approx(10.0)
    assert f.slope_s_per_us == pytest.approx(0.5)
    assert f.r2 == pytest.approx(1.0)
    assert f.delay_for_slowdown_us(5) == pytest.approx(1.0)
    assert fit.fit([0, 1], [3.0, 3.0]).delay_for_slowdown_us(5) is None
    with pytest.raises(ValueError):
        fit.fit([1, 1], [1.0, 2.0])


def test_histogram_percentiles_invert_the_rust_buckets():
    # Rust: exact below 64 ns, then 32 buckets per power of two.
    assert stats.bucket_range(63) == (63, 64)
    assert stats.bucket_range(64) == (64, 66)
    assert stats.bucket_range(96) == (128, 132)
    h = [0] * stats.HIST_BUCKETS
    h[10] = 99
    h[96] = 1
    assert stats.hist_percentile(h, 0.5) == 10.5
    assert stats.hist_percentile(h, 1.0) == 130
    assert stats.hist_percentile([0] * 5, 0.5) is None


def test_bundled_fct_tables_resolve():
    p = runner.resolve_fct("40g/tm/memcached")
    assert p.endswith("40g/fcts_tm_pfabric_memcached.txt")
    with pytest.raises(DdclabError, match="--fct"):
        runner.resolve_fct("40g/tm/nope")


def test_stats_since_subtracts_totals_and_keeps_levels(tmp_path):
    from ddclab.emu import stats

    def proc(pid, path, remote, resident, h):
        c = {k: 0 for k in stats.COUNTERS} | {"remote_faults": remote, "resident": resident, "peak_resident": resident}
        return stats.ProcStats(pid, tmp_path / path, c, [h] + [0] * (stats.HIST_BUCKETS - 1), [0] * stats.HIST_BUCKETS)

    before = [proc(10, "10.stats", 100, 50, 7)]
    after = [proc(10, "10.stats", 130, 40, 9), proc(11, "11.stats", 5, 3, 1)]
    d = {p.pid: p for p in stats.since(before, after)}
    assert d[10].counters["remote_faults"] == 30 and d[10].hist_remote[0] == 2
    assert d[10].counters["resident"] == 40 and d[10].counters["peak_resident"] == 40  # levels: the later reading
    assert d[11].counters["remote_faults"] == 5  # appeared in between: all of it


def test_hundred_percent_local_means_no_limit():
    from ddclab.emu.runner import pages_for_percent

    assert pages_for_percent(1000, 25) == 250
    assert pages_for_percent(1001, 25) == 251  # rounded up
    assert pages_for_percent(1000, 99.9) == 999
    assert pages_for_percent(1000, 100) is None
