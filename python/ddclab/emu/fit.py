"""Fit runtime against injected delay, the study's method for stating
latency requirements: runtime(d) = a + b*d by least squares; the delay that
keeps the slowdown (vs. the zero-delay run) within X% is X/100 * a / b."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LinearFit:
    intercept_s: float
    slope_s_per_us: float
    r2: float

    def delay_for_slowdown_us(self, pct: float) -> float | None:
        if self.slope_s_per_us <= 0:
            return None
        return pct / 100.0 * self.intercept_s / self.slope_s_per_us


def fit(delays_us: list[float], runtimes_s: list[float]) -> LinearFit:
    n = len(delays_us)
    if n < 2 or len(set(delays_us)) < 2:
        raise ValueError("a fit needs at least two distinct delays")
    mx = sum(delays_us) / n
    my = sum(runtimes_s) / n
    sxx = sum((x - mx) ** 2 for x in delays_us)
    sxy = sum((x - mx) * (y - my) for x, y in zip(delays_us, runtimes_s))
    b = sxy / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for y in runtimes_s)
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in zip(delays_us, runtimes_s))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return LinearFit(intercept_s=a, slope_s_per_us=b, r2=r2)
