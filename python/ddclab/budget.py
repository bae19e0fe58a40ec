"""The latency-budget model: what one remote page access costs, component by component.

This encodes Table 4 of "Network Requirements for Resource Disaggregation"
(Gao et al., OSDI 2016, section 3.3): the round-trip latency of fetching one page
from a remote memory blade, split into OS, data copy, switching, propagation and
transmission, for an inter-rack and an intra-rack path, under three technologies:

* ``baseline`` - today's kernel network stack;
* ``rdma`` - RDMA, which bypasses the kernel (no OS term);
* ``rdma_nic`` - RDMA with the NIC integrated on the CPU die, which halves the
  cost of moving the page between memory and the NIC.

Each cell of the table is ``count x per-traversal latency``. The counts are
structural (how many times a round trip crosses that component, derived from the
number of switches on the path); the per-traversal values are parameters with a
recorded provenance: the study's value, a value derived from a knob (link speed,
page size, cable length), or a user override. With the defaults the totals are
the study's 7.04 / 5.28 / 5.14 / 3.38 / 4.14 / 2.38 µs.

The model then says which of the study's application classes meet their latency
targets (class A: 5 µs, class B: 3 µs) on each path and technology.

Use :func:`compute` from Python; ``ddclab budget`` prints the same result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from .errors import DdclabError

STUDY = 'Table 4 of "Network Requirements for Resource Disaggregation" (OSDI 2016)'

# Order of the study's table, and how each thing is called in output and overrides.
TECHNOLOGIES: dict[str, str] = {
    "baseline": "Baseline",
    "rdma": "RDMA",
    "rdma_nic": "RDMA + NIC integration",
}
PATHS: dict[str, str] = {"inter": "inter-rack", "intra": "intra-rack"}
COMPONENTS: dict[str, str] = {
    "os": "OS",
    "data_copy": "Data copy",
    "switching": "Switching",
    "propagation_inter": "Propagation (inter-rack)",
    "propagation_intra": "Propagation (intra-rack)",
    "transmission": "Transmission",
}

# The study's per-traversal values that no knob derives (microseconds).
STUDY_OS_US = 0.95
STUDY_COPY_US = 1.00
STUDY_COPY_NIC_INTEGRATED_US = 0.50
STUDY_SWITCH_US = 0.24

# Knob defaults. The study's table gives 0.20 us per inter-rack and 0.02 us per
# intra-rack propagation traversal; at the usual 5 ns/m of signal in fibre or
# copper (about 2/3 of c) those are 40 m and 4 m cables. The lengths are our
# reading of the table, so the output states them.
DEFAULT_LINK_GBPS = 40.0
DEFAULT_PAGE_BYTES = 4096
DEFAULT_SWITCHES_INTER = 3  # ToR, spine, ToR on each way
DEFAULT_SWITCHES_INTRA = 1  # the rack's ToR
DEFAULT_INTER_RACK_M = 40.0
DEFAULT_INTRA_RACK_M = 4.0
DEFAULT_NS_PER_M = 5.0

# The study's application classes and their round-trip latency targets (µs).
DEFAULT_TARGETS_US: dict[str, float] = {"A": 5.0, "B": 3.0}

# Totals are compared with targets on the exact value; the tolerance only keeps
# float noise (3.0000000000000004) from flipping a verdict.
_EPS = 1e-9


@dataclass(frozen=True)
class Params:
    """Every knob of the model. Field names are the Python API's keyword names;
    the CLI option is the same name with dashes (``link_gbps`` -> ``--link-gbps``)."""

    link_gbps: float = DEFAULT_LINK_GBPS
    page_bytes: int = DEFAULT_PAGE_BYTES
    switches_inter: int = DEFAULT_SWITCHES_INTER
    switches_intra: int = DEFAULT_SWITCHES_INTRA
    inter_rack_m: float = DEFAULT_INTER_RACK_M
    intra_rack_m: float = DEFAULT_INTRA_RACK_M
    ns_per_m: float = DEFAULT_NS_PER_M
    switch_us: float = STUDY_SWITCH_US
    class_a_us: float = DEFAULT_TARGETS_US["A"]
    class_b_us: float = DEFAULT_TARGETS_US["B"]
    # "component" or "technology.component" -> per-traversal value in us.
    overrides: Mapping[str, float] = field(default_factory=dict)

    def targets(self) -> dict[str, float]:
        return {"A": self.class_a_us, "B": self.class_b_us}


@dataclass(frozen=True)
class Term:
    """One component on one path under one technology: ``count x unit_us``."""

    component: str
    count: int
    unit_us: float
    source: str  # where unit_us comes from
    count_rule: str  # why the round trip crosses it ``count`` times

    @property
    def label(self) -> str:
        return COMPONENTS[self.component]

    @property
    def total_us(self) -> float:
        return self.count * self.unit_us


@dataclass(frozen=True)
class Column:
    """One column of the table: a technology on a path, with its terms and verdicts."""

    technology: str
    path: str
    terms: tuple[Term, ...]
    targets_us: Mapping[str, float]

    @property
    def label(self) -> str:
        return f"{TECHNOLOGIES[self.technology]}, {PATHS[self.path]}"

    @property
    def total_us(self) -> float:
        return sum(t.total_us for t in self.terms)

    def meets(self, cls: str) -> bool:
        return self.total_us <= self.targets_us[cls] + _EPS

    def term(self, component: str) -> Term:
        for t in self.terms:
            if t.component == component:
                return t
        raise KeyError(component)


@dataclass(frozen=True)
class Budget:
    """The whole table: six columns in the study's order."""

    params: Params
    columns: tuple[Column, ...]

    def column(self, technology: str, path: str) -> Column:
        for c in self.columns:
            if c.technology == technology and c.path == path:
                return c
        raise KeyError((technology, path))

    def totals(self) -> dict[tuple[str, str], float]:
        return {(c.technology, c.path): c.total_us for c in self.columns}

    def headline(self) -> str:
        """The six totals, two decimals, in the study's order."""
        return " / ".join(f"{c.total_us:.2f}" for c in self.columns)

    def meeting(self, cls: str) -> list[Column]:
        return [c for c in self.columns if c.meets(cls)]

    def to_dict(self) -> dict:
        p = self.params
        return {
            "model": STUDY,
            "units": "microseconds per round trip of one page access",
            "params": {
                "link_gbps": p.link_gbps,
                "page_bytes": p.page_bytes,
                "switches_inter": p.switches_inter,
                "switches_intra": p.switches_intra,
                "inter_rack_m": p.inter_rack_m,
                "intra_rack_m": p.intra_rack_m,
                "ns_per_m": p.ns_per_m,
                "switch_us": p.switch_us,
                "overrides": dict(p.overrides),
            },
            "targets_us": p.targets(),
            "columns": [
                {
                    "technology": c.technology,
                    "path": c.path,
                    "label": c.label,
                    "total_us": c.total_us,
                    "total_us_2dp": f"{c.total_us:.2f}",
                    "meets": {cls: c.meets(cls) for cls in p.targets()},
                    "components": [
                        {
                            "component": t.component,
                            "label": t.label,
                            "count": t.count,
                            "unit_us": t.unit_us,
                            "total_us": t.total_us,
                            "source": t.source,
                            "count_rule": t.count_rule,
                        }
                        for t in c.terms
                    ],
                }
                for c in self.columns
            ],
        }

    def to_dataframe(self):
        """One row per (technology, path, component); pandas is imported only here."""
        import pandas as pd

        rows = [
            {
                "technology": c.technology,
                "path": c.path,
                "component": t.component,
                "count": t.count,
                "unit_us": t.unit_us,
                "total_us": t.total_us,
                "source": t.source,
            }
            for c in self.columns
            for t in c.terms
        ]
        return pd.DataFrame(rows)


# --- validation -------------------------------------------------------------------


def _number(value, option: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DdclabError(f"{option} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise DdclabError(f"{option} must be a finite number, got {value!r}")
    return x


def _positive(value, option: str, unit: str) -> float:
    x = _number(value, option)
    if x <= 0:
        raise DdclabError(f"{option} must be greater than 0 {unit}, got {value!r}")
    return x


def _non_negative(value, option: str, unit: str) -> float:
    x = _number(value, option)
    if x < 0:
        raise DdclabError(f"{option} must be 0 {unit} or more, got {value!r}")
    return x


def _integer(value, option: str, minimum: int, why: str) -> int:
    x = _number(value, option)
    if x != int(x) or x < minimum:
        raise DdclabError(f"{option} must be a whole number >= {minimum} ({why}), got {value!r}")
    return int(x)


def parse_override_key(key: str) -> tuple[str | None, str]:
    """``"os"`` -> (None, "os"); ``"rdma_nic.data_copy"`` -> ("rdma_nic", "data_copy")."""
    tech, dot, comp = str(key).strip().rpartition(".")
    if not dot:
        tech = None
    elif tech not in TECHNOLOGIES:
        raise DdclabError(
            f"--override {key!r}: unknown technology {tech!r} "
            f"(known: {', '.join(TECHNOLOGIES)})"
        )
    if comp not in COMPONENTS:
        raise DdclabError(
            f"--override {key!r}: unknown component {comp!r} (known: {', '.join(COMPONENTS)})"
        )
    return tech, comp


def validate(params: Params) -> Params:
    """Check every knob; return a normalised copy. Messages name the CLI option."""
    overrides: dict[str, float] = {}
    for key, value in dict(params.overrides).items():
        tech, comp = parse_override_key(key)
        name = comp if tech is None else f"{tech}.{comp}"
        overrides[name] = _non_negative(value, f"--override {name}", "µs")
    return Params(
        link_gbps=_positive(params.link_gbps, "--link-gbps", "Gbit/s"),
        page_bytes=_integer(params.page_bytes, "--page-bytes", 1, "bytes per page"),
        switches_inter=_integer(
            params.switches_inter, "--switches-inter", 2,
            "an inter-rack path crosses at least the two racks' ToR switches",
        ),
        switches_intra=_integer(params.switches_intra, "--switches-intra", 0, "switches per direction"),
        inter_rack_m=_non_negative(params.inter_rack_m, "--inter-rack-m", "metres"),
        intra_rack_m=_non_negative(params.intra_rack_m, "--intra-rack-m", "metres"),
        ns_per_m=_positive(params.ns_per_m, "--ns-per-m", "ns per metre"),
        switch_us=_non_negative(params.switch_us, "--switch-us", "µs"),
        class_a_us=_positive(params.class_a_us, "--class-a-us", "µs"),
        class_b_us=_positive(params.class_b_us, "--class-b-us", "µs"),
        overrides=overrides,
    )


# --- the model --------------------------------------------------------------------


def _links_per_direction(switches: int) -> tuple[int, int]:
    """(host-to-switch links, switch-to-switch links) one way along a path.

    With s >= 1 switches a path has s + 1 links: the two at the ends join a host
    (blade) to its ToR and are intra-rack cables; the s - 1 in the middle join
    switches and are the long inter-rack cables. With no switch at all the two
    blades are cabled directly (one intra-rack link)."""
    if switches == 0:
        return 1, 0
    return 2, switches - 1


def _fmt(x: float) -> str:
    return f"{x:g}"


def _terms(p: Params, technology: str, path: str) -> tuple[Term, ...]:
    switches = p.switches_inter if path == "inter" else p.switches_intra
    edge_links, core_links = _links_per_direction(switches)
    study = "study value"

    # (component, count, unit_us, source, count_rule) before overrides.
    if technology == "baseline":
        os_count, os_rule = 2, "one kernel network stack at each end"
    else:
        os_count, os_rule = 0, "RDMA bypasses the kernel"
    if technology == "rdma_nic":
        copy_us, copy_src = STUDY_COPY_NIC_INTEGRATED_US, (
            f"{study} with the NIC integrated on the CPU die ({STUDY_COPY_NIC_INTEGRATED_US:.2f} µs)"
        )
    else:
        copy_us, copy_src = STUDY_COPY_US, f"{study}: page moved between memory and NIC over PCIe ({STUDY_COPY_US:.2f} µs)"
    tx_us = p.page_bytes * 8 / (p.link_gbps * 1e3)  # bits / (Gbit/s) is ns; /1e3 -> us
    raw = [
        ("os", os_count, STUDY_OS_US, f"{study}: kernel network stack ({STUDY_OS_US:.2f} µs)", os_rule),
        ("data_copy", 2, copy_us, copy_src, "one copy at each end"),
        (
            "switching",
            2 * switches,
            p.switch_us,
            f"{study}: cut-through switch ({STUDY_SWITCH_US:.2f} µs)"
            if p.switch_us == STUDY_SWITCH_US
            else f"--switch-us {_fmt(p.switch_us)} (study: {STUDY_SWITCH_US:.2f} µs)",
            f"2 directions × {switches} switch(es)",
        ),
        (
            "propagation_inter",
            2 * core_links,
            p.inter_rack_m * p.ns_per_m / 1e3,
            f"{_fmt(p.inter_rack_m)} m × {_fmt(p.ns_per_m)} ns/m per switch-to-switch cable "
            f"(study: 0.20 µs)",
            f"2 directions × {core_links} switch-to-switch link(s)",
        ),
        (
            "propagation_intra",
            2 * edge_links,
            p.intra_rack_m * p.ns_per_m / 1e3,
            f"{_fmt(p.intra_rack_m)} m × {_fmt(p.ns_per_m)} ns/m per blade-to-ToR cable "
            f"(study: 0.02 µs)",
            f"2 directions × {edge_links} blade-to-switch link(s)",
        ),
        (
            "transmission",
            1,
            tx_us,
            f"{p.page_bytes} B × 8 / {_fmt(p.link_gbps)} Gbit/s",
            "the page is serialised once (cut-through switches; the request is tiny)",
        ),
    ]
    terms = []
    for comp, count, unit, source, rule in raw:
        for key in (f"{technology}.{comp}", comp):  # the specific override wins
            if key in p.overrides:
                source = f"override {key}={_fmt(p.overrides[key])} (model: {unit:.4g} µs)"
                unit = p.overrides[key]
                break
        terms.append(Term(comp, count, unit, source, rule))
    return tuple(terms)


def compute(
    link_gbps: float = DEFAULT_LINK_GBPS,
    *,
    page_bytes: int = DEFAULT_PAGE_BYTES,
    switches_inter: int = DEFAULT_SWITCHES_INTER,
    switches_intra: int = DEFAULT_SWITCHES_INTRA,
    inter_rack_m: float = DEFAULT_INTER_RACK_M,
    intra_rack_m: float = DEFAULT_INTRA_RACK_M,
    ns_per_m: float = DEFAULT_NS_PER_M,
    switch_us: float = STUDY_SWITCH_US,
    class_a_us: float = DEFAULT_TARGETS_US["A"],
    class_b_us: float = DEFAULT_TARGETS_US["B"],
    overrides: Mapping[str, float] | None = None,
) -> Budget:
    """Compute the latency budget.

    ``overrides`` maps a component (``"os"``) or ``"technology.component"``
    (``"rdma_nic.data_copy"``) to a per-traversal latency in microseconds; a
    technology-specific override wins over a plain one. Raises
    :class:`~ddclab.errors.DdclabError` on bad input.
    """
    params = validate(
        Params(
            link_gbps=link_gbps,
            page_bytes=page_bytes,
            switches_inter=switches_inter,
            switches_intra=switches_intra,
            inter_rack_m=inter_rack_m,
            intra_rack_m=intra_rack_m,
            ns_per_m=ns_per_m,
            switch_us=switch_us,
            class_a_us=class_a_us,
            class_b_us=class_b_us,
            overrides=dict(overrides or {}),
        )
    )
    targets = params.targets()
    columns = tuple(
        Column(tech, path, _terms(params, tech, path), targets)
        for tech in TECHNOLOGIES
        for path in PATHS
    )
    return Budget(params, columns)
