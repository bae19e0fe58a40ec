"""Redis with redis-benchmark (both from the distribution's packages).

The study ran Redis with redis-benchmark. Data: redis-benchmark's own SETs of
random keys from a keyspace (-r), 1000-byte values; then a timed mix of GET and
SET over the same keyspace. Persistence is off (--save '' --appendonly no):
a background save forks, and snapshots are not what is measured.
"""

from __future__ import annotations

import re
import shutil

from ..errors import DdclabError
from .base import App, Server, apt_install

#: keyspace, timed requests, value bytes, pipeline depth
SIZES = {"tiny": (2_000, 5_000, 1000, 4), "small": (60_000, 100_000, 1000, 8), "paper": (1_000_000, 4_000_000, 1000, 8)}


def _install() -> None:
    apt_install(["redis-server", "redis-tools"], ["redis-server", "redis-benchmark"], "redis")


def _unavailable() -> str | None:
    for b in ("redis-server", "redis-benchmark"):
        if shutil.which(b) is None:
            return f"{b} is not installed (scripts/setup-apps.sh, or apt-get install -y redis-server redis-tools)"
    return None


def _parse(out: str) -> dict:
    # --csv lines: "test","rps",...
    rps = [float(m.group(2)) for m in re.finditer(r'^"([A-Z]+)","([0-9.]+)"', out, re.M)]
    if not rps:
        raise DdclabError(f"redis-benchmark printed no result: {out.strip()[:200]!r}")
    return {"ops_per_s": sum(rps) / len(rps)}


def _server(scale: str) -> Server:
    keys, reqs, value, pipe = SIZES[scale]
    bench = shutil.which("redis-benchmark") or "redis-benchmark"

    def argv(port: int) -> list[str]:
        return [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no", "--maxmemory", "0"]

    def common(port: int) -> list[str]:
        return [bench, "-h", "127.0.0.1", "-p", str(port), "-q", "--csv", "-d", str(value), "-r", str(keys), "-P", str(pipe), "-c", "8"]

    return Server(
        argv=argv,
        # ~2x the keyspace in random SETs fills ~86% of the keys (1 - e^-2).
        prepare=lambda port: [common(port) + ["-t", "set", "-n", str(2 * keys)]],
        client=lambda port: common(port) + ["-t", "get,set", "-n", str(reqs)],
        parse=_parse,
    )


REDIS = App(name="redis", title="Redis, redis-benchmark GET+SET", metric="throughput",
            substitution="redis-benchmark as in the study; keyspace and request counts scaled per --scale; 1000-byte values; "
                         "keys uniform over the keyspace (redis-benchmark -r has no skew option).",
            install=_install, unavailable=_unavailable, server=_server)
