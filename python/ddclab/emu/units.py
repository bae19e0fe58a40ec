"""Parse the emulator's command-line quantities: latencies, bandwidths, sizes
and the local-memory share. Errors name the option and the value."""

from __future__ import annotations

import math
import re

from ..errors import DdclabError

_NUM = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"

_TIME = {"": 1e-6, "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
_RATE = {
    "bps": 1, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9, "tbps": 1e12,
    "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "": 1e9,
}
_SIZE = {
    "": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1000**3, "gib": 1024**3, "t": 1024**4, "tb": 1000**4, "tib": 1024**4,
}


def _split(option: str, text: str) -> tuple[float, str]:
    m = re.fullmatch(_NUM + r"\s*([a-zA-Zµ%]*)", text.strip())
    if not m:
        raise DdclabError(f"{option} {text!r}: not a number with a unit")
    v = float(m.group(1))
    if not math.isfinite(v):
        raise DdclabError(f"{option} {text!r}: not a finite number")
    return v, m.group(2)


def latency_ns(text: str, option: str = "--latency") -> int:
    """'5us', '500ns', '1.5ms', '0' (a bare number is microseconds)."""
    v, unit = _split(option, text)
    if unit.lower() not in _TIME and unit not in _TIME:
        raise DdclabError(f"{option} {text!r}: unknown time unit {unit!r} (use ns, us, ms or s)")
    if v < 0:
        raise DdclabError(f"{option} {text!r}: a latency cannot be negative")
    return round(v * _TIME.get(unit, _TIME.get(unit.lower(), 1e-6)) * 1e9)


def bandwidth_bps(text: str, option: str = "--bandwidth") -> int:
    """'40Gbps', '100G', '10gbps'; 0 or 'inf' means unlimited (returns 0)."""
    if text.strip().lower() in ("inf", "unlimited"):
        return 0
    v, unit = _split(option, text)
    if unit.lower() not in _RATE:
        raise DdclabError(f"{option} {text!r}: unknown rate unit {unit!r} (use bps, Mbps, Gbps, Tbps)")
    if v < 0:
        raise DdclabError(f"{option} {text!r}: a bandwidth cannot be negative")
    return round(v * _RATE[unit.lower()])


def size_bytes(text: str, option: str = "--local") -> int:
    v, unit = _split(option, text)
    if unit.lower() not in _SIZE:
        raise DdclabError(f"{option} {text!r}: unknown size unit {unit!r} (use KiB, MiB, GiB or %)")
    if v <= 0:
        raise DdclabError(f"{option} {text!r}: the local memory must be positive")
    return round(v * _SIZE[unit.lower()])


def local_spec(text: str) -> tuple[str, float]:
    """('percent', X) for 'X%' with X in (0, 100], else ('bytes', N)."""
    t = text.strip()
    if t.endswith("%"):
        v, _ = _split("--local", t[:-1])
        if not (0 < v <= 100):
            raise DdclabError(f"--local {text!r}: the fraction must be in (0, 100]%")
        return "percent", v
    return "bytes", float(size_bytes(t))


def latency_list(text: str, option: str = "--latency") -> list[int]:
    items = [x for x in text.split(",") if x.strip()]
    if not items:
        raise DdclabError(f"{option} {text!r}: give at least one latency")
    return [latency_ns(x, option) for x in items]
