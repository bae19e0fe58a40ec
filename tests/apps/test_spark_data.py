"""The Spark apps' data generators and argv (no Spark, no Java needed)."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from ddclab.apps import spark
from ddclab.errors import DdclabError


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_vocabulary_is_distinct_and_deterministic():
    v = spark.vocabulary(3000)
    assert len(v) == 3000 == len(set(v))
    assert all(w.isalpha() and w.islower() for w in v)
    assert v == spark.vocabulary(3000)
    assert v != spark.vocabulary(3000, seed=1)


def test_text_is_zipfian_words_of_the_vocabulary(tmp_path):
    meta = spark.gen_text(tmp_path / "a.txt", 300_000, 2000)
    spark.gen_text(tmp_path / "b.txt", 300_000, 2000)
    data = (tmp_path / "a.txt").read_text()
    assert _sha(tmp_path / "a.txt") == _sha(tmp_path / "b.txt")
    assert meta["bytes"] == len(data.encode()) and 290_000 < meta["bytes"] <= 300_000
    lines = data.split("\n")
    assert lines[-1] == "" and meta["lines"] == len(lines) - 1
    assert all(len(ln.split(" ")) == 12 for ln in lines[:-1])
    counts = Counter(data.split())
    vocab = spark.vocabulary(2000)
    assert set(counts) <= set(vocab)
    # Zipf (s = 1): rank 1 about twice rank 2 and ten times rank 10.
    c = [counts[vocab[i]] for i in range(10)]
    assert c[0] == max(counts.values())
    assert 1.6 < c[0] / c[1] < 2.5 and 6 < c[0] / c[9] < 14


def test_records_are_100_byte_lines_with_random_keys(tmp_path):
    spark.gen_records(tmp_path / "r.txt", 2000)
    raw = (tmp_path / "r.txt").read_bytes()
    assert len(raw) == 200_000
    lines = raw.split(b"\n")[:-1]
    assert len(lines) == 2000 and all(len(ln) == 99 and ln[10:11] == b"\t" for ln in lines)
    keys = [ln[:10] for ln in lines]
    assert len(set(keys)) == 2000 and all(k.isalnum() for k in keys)
    assert keys != sorted(keys)
    spark.gen_records(tmp_path / "s.txt", 2000)
    assert _sha(tmp_path / "r.txt") == _sha(tmp_path / "s.txt")


def test_bdb_tables_have_the_benchmark_columns(tmp_path):
    meta = spark.gen_bdb(tmp_path, 500, 4300)
    assert meta == {"rankings": 500, "uservisits": 4300}
    rk = list(csv.reader(open(tmp_path / "rankings.csv")))
    uv = list(csv.reader(open(tmp_path / "uservisits.csv")))
    assert len(rk) == 500 and all(len(r) == 3 for r in rk)
    assert len(uv) == 4300 and all(len(r) == 9 for r in uv)
    urls = {r[0] for r in rk}
    assert len(urls) == 500 and all(int(r[1]) >= 1 and 1 <= int(r[2]) < 100 for r in rk)
    assert {r[1] for r in uv} <= urls
    popular = Counter(r[1] for r in uv).most_common(1)[0][1]
    assert popular > 10 * 4300 / 500, "destURL popularity must be skewed"
    for ip, _, d, rev, agent, cc, lang, word, dur in uv[:200]:
        assert len(ip.split(".")) == 4 and all(1 <= int(o) < 255 for o in ip.split("."))
        assert date(1970, 1, 1) <= date.fromisoformat(d) < date(2010, 1, 1)
        assert 0 <= float(rev) < 1000 and agent.startswith("Agent/") and len(cc) == 3 and len(lang) == 5 and word
        assert 1 <= int(dur) < 10
    (tmp_path / "again").mkdir()
    spark.gen_bdb(tmp_path / "again", 500, 4300)
    assert _sha(tmp_path / "uservisits.csv") == _sha(tmp_path / "again" / "uservisits.csv")


def test_ratings_are_unique_pairs_in_range(tmp_path):
    meta = spark.gen_ratings(tmp_path / "r.csv", 200, 100, 3000)
    rows = [tuple(map(int, r)) for r in csv.reader(open(tmp_path / "r.csv"))]
    assert meta["ratings"] == len(rows) == 3000
    assert len({(u, i) for u, i, _ in rows}) == 3000
    assert all(0 <= u < 200 and 0 <= i < 100 and 1 <= r <= 5 for u, i, r in rows)
    assert len({r for _, _, r in rows}) == 5
    items = Counter(i for _, i, _ in rows)
    assert items.most_common(1)[0][1] > 3 * 3000 / 100, "item popularity must be skewed"
    spark.gen_ratings(tmp_path / "s.csv", 200, 100, 3000)
    assert _sha(tmp_path / "r.csv") == _sha(tmp_path / "s.csv")
    with pytest.raises(DdclabError, match="too dense"):
        spark.gen_ratings(tmp_path / "t.csv", 10, 10, 80)


def test_dataset_is_made_once_per_parameters(isolated_cache):
    d = spark.dataset("sort", "tiny")
    assert (d / "meta.json").is_file() and (d / "records.txt").stat().st_size == spark.SIZES["sort"]["tiny"]["records"] * 100
    mtime = (d / "records.txt").stat().st_mtime_ns
    assert spark.dataset("sort", "tiny") == d and (d / "records.txt").stat().st_mtime_ns == mtime
    assert spark.dataset("wordcount", "tiny") != d
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".")], "no temporary directory left behind"


def test_sizes_grow_with_scale():
    for w, by_scale in spark.SIZES.items():
        first = lambda s: next(iter(by_scale[s].values()))  # noqa: E731
        assert first("tiny") < first("small") < first("paper"), w


def test_command_is_spark_submit_of_the_job(monkeypatch, tmp_path):
    fake = tmp_path / "pyspark" / "bin" / "spark-submit"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setattr(spark, "spark_submit", lambda: fake)
    argv = spark.SQL.command("tiny")
    assert argv[0].endswith("env") and argv[1] == f"SPARK_HOME={tmp_path / 'pyspark'}" and argv[2] == str(spark.SUBMIT)
    assert "local[2]" in argv and str(spark.JOBS) in argv
    assert argv[-2] == "sql" and Path(argv[-1], "uservisits.csv").is_file()
    assert argv[argv.index("--driver-memory") + 1] == spark.HEAP["tiny"]


def test_unavailable_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(spark, "java", lambda: None)
    assert "Java" in spark.WORDCOUNT.unavailable()
    monkeypatch.setattr(spark, "java", lambda: "/usr/bin/java")
    monkeypatch.setattr(spark, "spark_submit", lambda: None)
    why = spark.ALS.unavailable()
    assert "pyspark is not installed" in why and "setup-apps" in why
    with pytest.raises(DdclabError, match="pyspark"):
        spark.ALS.command("tiny")


def test_submit_script_without_spark_home_is_one_line_exit_2(tmp_path):
    r = subprocess.run([str(spark.SUBMIT), "x"], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "SPARK_HOME": str(tmp_path)})
    assert r.returncode == 2 and r.stderr.startswith("error: SPARK_HOME") and r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize("args", [["nope", "/tmp"], ["sql"], ["sql", "/nonexistent-dir"]])
def test_job_script_bad_input_is_one_line_exit_2(args):
    r = subprocess.run([sys.executable, str(spark.JOBS), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr


def test_parse_output():
    assert spark.parse_output("noise\nOK sql q1_rows=3 q3_ip=1.2.3.4 seconds=1.0\n") == {
        "workload": "sql", "q1_rows": "3", "q3_ip": "1.2.3.4", "seconds": "1.0"}
    with pytest.raises(DdclabError, match="no result"):
        spark.parse_output("Traceback ...")
