"""Spark in local mode (pyspark from PyPI): WordCount, Sort, SQL on Big Data
Benchmark tables, ALS collaborative filtering.

The study ran Spark on a cluster with Wikipedia text (WordCount, Sort), the Big
Data Benchmark's rankings/uservisits tables (Spark SQL) and MovieLens-style
ratings. Here every dataset is generated, seeded, into the app cache before any
timed run (:func:`dataset`), and each job runs in one local-mode JVM with 2
cores (``spark-submit --master local[2]``), through the DataFrame API so the
work stays in the JVM (no Python worker processes).

The emulated program is apps/spark/spark-submit-emu.sh, pyspark's
``spark-submit`` logic with one change: the short launcher JVM that computes
the real command line runs outside the emulator (it is set-up, not the
measured application). The script then execs the Spark JVM in place, so the root
process -- whose peak resident set defines "local memory %" -- is the Spark
JVM; the Python driver (apps/spark/jobs.py) is its child and only sends the
query plan.

pyspark is installed into the interpreter running ddclab (the project's
``.venv``) by ``scripts/setup-apps.sh`` (``--setup``); it is not a core
dependency, and the tests do not need it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..errors import DdclabError
from .base import SOURCES, App, apt_install, cache_dir

PYSPARK = "pyspark==3.5.3"
JOBS = SOURCES / "spark" / "jobs.py"
#: spark-submit whose launcher JVM runs outside the emulator (see the script)
SUBMIT = SOURCES / "spark" / "spark-submit-emu.sh"
#: bump when a generator's output changes (the data directory's name carries it)
GEN_VERSION = 2
SEED = 20160101

#: per workload and scale: generator parameters, and the JVM heap (spark.driver.memory).
SIZES = {
    # text bytes, vocabulary size
    "wordcount": {"tiny": dict(bytes=1 << 20, vocab=5_000), "small": dict(bytes=48 << 20, vocab=50_000),
                  "paper": dict(bytes=2 << 30, vocab=500_000)},
    # 100-byte records
    "sort": {"tiny": dict(records=10_000), "small": dict(records=400_000), "paper": dict(records=20_000_000)},
    # rankings rows, uservisits rows (BDB's ratio is about 1 : 8.6)
    "sql": {"tiny": dict(rankings=2_000, uservisits=17_000), "small": dict(rankings=100_000, uservisits=860_000),
            "paper": dict(rankings=3_000_000, uservisits=26_000_000)},
    # users, items, ratings (small ~ MovieLens 1M, paper ~ MovieLens 20M)
    "als": {"tiny": dict(users=300, items=200, ratings=5_000), "small": dict(users=6_000, items=3_700, ratings=1_000_000),
            "paper": dict(users=140_000, items=27_000, ratings=20_000_000)},
}
HEAP = {"tiny": "512m", "small": "1g", "paper": "6g"}


# ------------------------------------------------------------------ generators

_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


def vocabulary(n: int, seed: int = SEED) -> list[str]:
    """n distinct pronounceable words (1-4 syllables), deterministic."""
    rng = np.random.default_rng([seed, 1])
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < n:
        k = rng.integers(1, 5, size=4096)
        syl = rng.integers(0, len(_SYLLABLES), size=(4096, 4))
        for i in range(4096):
            w = "".join(_SYLLABLES[j] for j in syl[i, : k[i]])
            if w not in seen:
                seen.add(w)
                words.append(w)
                if len(words) == n:
                    break
    return words


def zipf_indices(rng: np.random.Generator, n: int, size: int, s: float = 1.0) -> np.ndarray:
    """size draws from {0..n-1} with P(i) ~ 1/(i+1)^s (inverse CDF)."""
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), n - 1)


def gen_text(path: Path, nbytes: int, vocab: int, seed: int = SEED, words_per_line: int = 12) -> dict:
    """Wikipedia-like text for WordCount/Sort: zipfian (s=1) words from a
    generated vocabulary, 12 per line, until nbytes."""
    words = np.array(vocabulary(vocab, seed), dtype=object)
    rng = np.random.default_rng([seed, 2])
    written = lines = 0
    with open(path, "w") as f:
        while written < nbytes:
            idx = zipf_indices(rng, vocab, 12_000)
            chunk = "\n".join(" ".join(row) for row in words[idx].reshape(-1, words_per_line)) + "\n"
            if written + len(chunk) > nbytes:  # last chunk: whole lines up to nbytes
                chunk = chunk[: nbytes - written]
                chunk = chunk[: chunk.rfind("\n") + 1]
                if not chunk:
                    break
            f.write(chunk)
            written += len(chunk)
            lines += chunk.count("\n")
    return {"bytes": written, "lines": lines}


_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)


def gen_records(path: Path, records: int, seed: int = SEED) -> dict:
    """Sort input: 100-byte lines, a 10-character key, a tab, an 88-character
    payload and a newline (TeraSort's record size, printable)."""
    rng = np.random.default_rng([seed, 3])
    with open(path, "wb") as f:
        left = records
        while left:
            n = min(left, 50_000)
            body = _ALNUM[rng.integers(0, len(_ALNUM), size=(n, 100), dtype=np.uint8)]
            body[:, 10] = ord("\t")
            body[:, 99] = ord("\n")
            f.write(body.tobytes())
            left -= n
    return {"records": records, "bytes": records * 100}


def _ips(rng: np.random.Generator, n: int) -> np.ndarray:
    o = rng.integers(1, 255, size=(n, 4))
    return np.char.add(np.char.add(np.char.add(np.char.add(o[:, 0].astype(str), "."), np.char.add(o[:, 1].astype(str), ".")),
                                   np.char.add(o[:, 2].astype(str), ".")), o[:, 3].astype(str))


def _write_csv(path: Path, columns: list[np.ndarray], mode: str = "w") -> None:
    n = len(columns[0])
    with open(path, mode) as f:
        for lo in range(0, n, 100_000):
            hi = min(n, lo + 100_000)
            cols = [c[lo:hi].astype(str) for c in columns]
            f.write("\n".join(",".join(r) for r in zip(*cols)) + "\n")


def gen_bdb(out: Path, rankings: int, uservisits: int, seed: int = SEED) -> dict:
    """The Big Data Benchmark's two tables, same columns and value ranges.

    rankings(pageURL, pageRank, avgDuration);
    uservisits(sourceIP, destURL, visitDate, adRevenue, userAgent, countryCode,
    languageCode, searchWord, duration). destURL references rankings' pageURL
    with zipfian popularity; visit dates are uniform over 1970-2009."""
    rng = np.random.default_rng([seed, 4])
    urls = np.char.add(np.char.add("url", np.arange(rankings).astype(str)), ".example/page")
    page_rank = zipf_indices(rng, 10_000, rankings, 0.8)[rng.permutation(rankings)] + 1
    _write_csv(out / "rankings.csv", [urls, page_rank, rng.integers(1, 100, size=rankings)])
    agent_names = np.array([f"Agent/{i}.{j}" for i in range(1, 11) for j in range(10)])
    country_names = np.array(["USA", "DEU", "FRA", "GBR", "CHN", "IND", "BRA", "JPN", "CAN", "AUS"])
    lang_names = np.array(["en-US", "de-DE", "fr-FR", "en-GB", "zh-CN", "hi-IN", "pt-BR", "ja-JP", "fr-CA", "en-AU"])
    words = np.array(vocabulary(2_000, seed), dtype=object)
    (out / "uservisits.csv").write_text("")
    for lo in range(0, uservisits, 1_000_000):  # in chunks: paper scale has 26M rows
        n = min(1_000_000, uservisits - lo)
        dest = urls[zipf_indices(rng, rankings, n, 0.8)]
        dates = (np.datetime64("1970-01-01") + rng.integers(0, 40 * 365, size=n)).astype(str)
        revenue = np.round(rng.random(n) * 1000, 2)
        agents = agent_names[rng.integers(0, 100, size=n)]
        countries = country_names[zipf_indices(rng, 10, n)]
        langs = lang_names[zipf_indices(rng, 10, n)]
        search = words[zipf_indices(rng, 2_000, n)]
        _write_csv(out / "uservisits.csv", [_ips(rng, n), dest, dates, revenue, agents, countries, langs, search,
                                            rng.integers(1, 10, size=n)], mode="a")
    return {"rankings": rankings, "uservisits": uservisits}


def gen_ratings(path: Path, users: int, items: int, ratings: int, seed: int = SEED, rank: int = 5) -> dict:
    """Ratings 1-5 from a rank-5 latent-factor model plus noise; item popularity
    and user activity zipfian (as in MovieLens); (user, item) pairs unique."""
    rng = np.random.default_rng([seed, 5])
    if ratings > users * items // 2:
        raise DdclabError(f"ratings: {ratings} ratings for {users} x {items} pairs is too dense")
    want = ratings
    pairs = np.empty(0, dtype=np.int64)
    while len(pairs) < want:
        k = int((want - len(pairs)) * 1.3) + 100
        u = zipf_indices(rng, users, k, 0.6)
        i = zipf_indices(rng, items, k, 0.9)
        cand = u.astype(np.int64) * items + i
        pairs = np.concatenate([pairs, cand])
        _, first = np.unique(pairs, return_index=True)
        pairs = pairs[np.sort(first)]
    pairs = pairs[:want]
    u, i = pairs // items, pairs % items
    uf = rng.normal(0, 0.6, size=(users, rank))
    itf = rng.normal(0, 0.6, size=(items, rank))
    score = 3.5 + np.einsum("ij,ij->i", uf[u], itf[i]) + rng.normal(0, 0.5, size=want)
    r = np.clip(np.rint(score), 1, 5).astype(np.int64)
    _write_csv(path, [u, i, r])
    return {"ratings": want, "users": users, "items": items}


def _generate(workload: str, scale: str, out: Path) -> dict:
    p = SIZES[workload][scale]
    if workload == "wordcount":
        return gen_text(out / "text.txt", p["bytes"], p["vocab"])
    if workload == "sort":
        return gen_records(out / "records.txt", p["records"])
    if workload == "sql":
        return gen_bdb(out, p["rankings"], p["uservisits"])
    if workload == "als":
        return gen_ratings(out / "ratings.csv", p["users"], p["items"], p["ratings"])
    raise DdclabError(f"spark: unknown workload {workload!r}")


def dataset(workload: str, scale: str) -> Path:
    """The generated input directory of a workload at a scale (made once,
    atomically: generated in a temporary directory, then renamed)."""
    key = hashlib.sha256(json.dumps([GEN_VERSION, SEED, workload, SIZES[workload][scale]], sort_keys=True).encode()).hexdigest()[:12]
    out = cache_dir() / "data" / f"spark-{workload}-{scale}-{key}"
    if (out / "meta.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        meta = _generate(workload, scale, tmp)
        (tmp / "meta.json").write_text(json.dumps(meta, sort_keys=True))
        try:
            tmp.rename(out)
        except OSError:
            if not (out / "meta.json").is_file():  # not a concurrent generator's finished copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# -------------------------------------------------------------- the Spark app

def spark_submit() -> Path | None:
    """spark-submit of the pyspark installed beside this interpreter."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "bin" / "spark-submit"
    return p if p.is_file() else None


def _install() -> None:
    apt_install(["openjdk-17-jre-headless"], ["java"], "spark")
    if spark_submit() is None:
        r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", PYSPARK], capture_output=True, text=True)
        if r.returncode != 0 or spark_submit() is None:
            lines = (r.stderr or r.stdout).strip().splitlines() or ["no message"]
            raise DdclabError(f"spark: pip install {PYSPARK} into {sys.prefix} failed: {lines[-1]}")
    for w in SIZES:
        for scale in ("tiny", "small"):
            dataset(w, scale)


def java() -> str | None:
    j = os.environ.get("JAVA_HOME")
    if j and (Path(j) / "bin" / "java").is_file():
        return str(Path(j) / "bin" / "java")
    return shutil.which("java")


def _unavailable() -> str | None:
    if java() is None:
        return "no Java runtime (java not on PATH): scripts/setup-apps.sh spark-wordcount, or apt-get install -y openjdk-17-jre-headless"
    if spark_submit() is None:
        return f"pyspark is not installed in {sys.prefix} (make setup-apps, or scripts/setup-apps.sh spark-wordcount)"
    for f in (JOBS, SUBMIT):
        if not f.is_file():
            return f"{f} is missing (ddclab must run from its repository)"
    return None


def _command(workload: str):
    def command(scale: str) -> list[str]:
        sub = spark_submit()
        if sub is None:
            raise DdclabError(_unavailable() or "pyspark is not installed")
        data = dataset(workload, scale)
        # env and the script exec in place: the emulated root process ends up
        # being the Spark JVM itself.
        return [shutil.which("env") or "/usr/bin/env", f"SPARK_HOME={sub.parent.parent}", str(SUBMIT), "--master", "local[2]", "--driver-memory", HEAP[scale],
                "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1",
                "--conf", "spark.sql.shuffle.partitions=4", "--conf", "spark.default.parallelism=4",
                "--conf", "spark.sql.adaptive.enabled=false",
                "--conf", f"spark.pyspark.python={sys.executable}", "--conf", f"spark.pyspark.driver.python={sys.executable}",
                str(JOBS), workload, str(data)]
    return command


def parse_output(out: str) -> dict:
    m = re.search(r"^OK (\w+) (.*)$", out, re.M)
    if not m:
        raise DdclabError(f"spark job printed no result: {out.strip()[-200:]!r}")
    return {"workload": m.group(1), **dict(kv.split("=", 1) for kv in m.group(2).split())}


def _app(workload: str, title: str, substitution: str) -> App:
    return App(name=f"spark-{workload}", title=title, metric="runtime", substitution=substitution,
               install=_install, unavailable=_unavailable, command=_command(workload), heavy=True)


WORDCOUNT = _app("wordcount", "Spark WordCount (local mode)",
                 "Wikipedia text replaced by generated text: zipfian (s=1) words from a generated vocabulary, 12 per line; "
                 "DataFrame split/explode/groupBy count; size per --scale.")
SORT = _app("sort", "Spark Sort (local mode)",
            "Wikipedia-derived sort input replaced by TeraSort-shaped 100-byte records (10-character random key); "
            "orderBy key, written out; size per --scale.")
SQL = _app("sql", "Spark SQL, Big Data Benchmark queries 1-3 (local mode)",
           "BDB's rankings/uservisits replaced by generated tables with the same columns (zipfian page popularity, "
           "1:8.6 row ratio); queries 1 (scan), 2 (aggregation), 3 (join); rows per --scale.")
ALS = _app("als", "Spark ALS collaborative filtering (pyspark.ml, local mode)",
           "MovieLens ratings replaced by a synthetic ratings matrix (rank-5 latent factors + noise, zipfian item "
           "popularity and user activity); ALS rank 10, 5 iterations; ~1M ratings at small, ~20M at paper.")

APPS = (WORDCOUNT, SORT, SQL, ALS)
