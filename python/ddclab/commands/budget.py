"""``ddclab budget``: print the round-trip latency budget of a remote page access.

The numbers come from :mod:`ddclab.budget`; this module only parses options and
renders the table (rich) or the same content as JSON.
"""

from __future__ import annotations

import json

import click

from .. import budget as model
from ..errors import DdclabError

# Options arrive as text and are checked by the model, so a bad value gives the
# model's one-line error naming the option (click's own type errors print usage).
_NUMBER_OPTIONS = [
    ("--link-gbps", "link_gbps", model.DEFAULT_LINK_GBPS, "GBPS", "Access link speed in Gbit/s."),
    ("--page-bytes", "page_bytes", model.DEFAULT_PAGE_BYTES, "BYTES", "Bytes moved per remote access (one page)."),
    ("--switches-inter", "switches_inter", model.DEFAULT_SWITCHES_INTER, "N", "Switches crossed one way on an inter-rack path."),
    ("--switches-intra", "switches_intra", model.DEFAULT_SWITCHES_INTRA, "N", "Switches crossed one way on an intra-rack path."),
    ("--inter-rack-m", "inter_rack_m", model.DEFAULT_INTER_RACK_M, "METRES", "Cable length between switches."),
    ("--intra-rack-m", "intra_rack_m", model.DEFAULT_INTRA_RACK_M, "METRES", "Cable length between a blade and its ToR."),
    ("--ns-per-m", "ns_per_m", model.DEFAULT_NS_PER_M, "NS", "Signal propagation delay per metre of cable."),
    ("--switch-us", "switch_us", model.STUDY_SWITCH_US, "US", "Latency of one switch traversal."),
    ("--class-a-us", "class_a_us", model.DEFAULT_TARGETS_US["A"], "US", "Round-trip target of application class A."),
    ("--class-b-us", "class_b_us", model.DEFAULT_TARGETS_US["B"], "US", "Round-trip target of application class B."),
]


def _parse_overrides(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise DdclabError(
                f"--override {item!r}: expected COMPONENT=US or TECHNOLOGY.COMPONENT=US, e.g. os=0.5"
            )
        out[key.strip()] = value.strip()
    return out


def _cell(term: model.Term) -> str:
    return f"{term.count} × {term.unit_us:.2f}"


def _render(result: model.Budget) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped or captured output: do not squeeze the table into 80 columns.
        console = Console(highlight=False, width=max(console.width, 132))
    p = result.params

    table = Table(
        title=(
            f"Round-trip latency of one {p.page_bytes} B remote page access at "
            f"{p.link_gbps:g} Gbit/s, µs (count × µs per traversal)"
        ),
        title_justify="left",
    )
    table.add_column("component")
    for col in result.columns:
        table.add_column(
            f"{model.TECHNOLOGIES[col.technology]}\n{model.PATHS[col.path]}", justify="right"
        )
    for comp, label in model.COMPONENTS.items():
        table.add_row(label, *(_cell(col.term(comp)) for col in result.columns))
    table.add_section()
    table.add_row("Total", *(f"{col.total_us:.2f}" for col in result.columns), style="bold")
    for cls, target in p.targets().items():
        table.add_row(
            f"class {cls} (≤ {target:g} µs)",
            *("meets" if col.meets(cls) else "misses" for col in result.columns),
        )
    console.print(table)
    console.print(
        "round trip, µs (baseline inter/intra, RDMA inter/intra, RDMA+NIC inter/intra): "
        + result.headline()
    )
    for cls, target in p.targets().items():
        ok = result.meeting(cls)
        where = "; ".join(c.label for c in ok) if ok else "nowhere"
        console.print(f"class {cls} ({target:g} µs) is met by: {where}")

    # Provenance: one row per distinct (component, source, count rule), so the
    # reader sees where every per-traversal value and every count comes from.
    prov = Table(title="Provenance", title_justify="left", show_lines=False)
    prov.add_column("component")
    prov.add_column("applies to")
    prov.add_column("µs per traversal", justify="right")
    prov.add_column("source of the value")
    prov.add_column("count")
    rows: dict[tuple, list[tuple[str, str]]] = {}
    for col in result.columns:
        for t in col.terms:
            key = (t.component, t.unit_us, t.source, t.count, t.count_rule)
            rows.setdefault(key, []).append((col.technology, col.path))
    for comp in model.COMPONENTS:
        for (c, unit, source, count, rule), where in rows.items():
            if c != comp:
                continue
            applies = _describe(where)
            prov.add_row(model.COMPONENTS[c], applies, f"{unit:.4g}", source, f"{count}: {rule}")
    console.print(prov)
    console.print(f"Model: {model.STUDY}; cable lengths are inferred from its per-traversal values.")


def _describe(where: list[tuple[str, str]]) -> str:
    """Name a set of (technology, path) columns briefly: "all", "rdma, rdma_nic;
    both paths", or the plain list when it is not a full product."""
    techs = list(dict.fromkeys(t for t, _ in where))
    paths = list(dict.fromkeys(p for _, p in where))
    if len(where) != len(techs) * len(paths):
        return ", ".join(f"{t}/{p}" for t, p in where)
    tech_text = "all technologies" if len(techs) == len(model.TECHNOLOGIES) else ", ".join(techs)
    path_text = "both paths" if len(paths) == len(model.PATHS) else f"{paths[0]}-rack path"
    if tech_text == "all technologies" and path_text == "both paths":
        return "all"
    return f"{tech_text}; {path_text}"


def _options(f):
    for flag, _name, default, metavar, help_ in reversed(_NUMBER_OPTIONS):
        f = click.option(flag, default=f"{default:g}", metavar=metavar, help=help_, show_default=True)(f)
    return f


@click.command("budget")
@_options
@click.option(
    "--override",
    "overrides",
    multiple=True,
    metavar="[TECH.]COMPONENT=US",
    help=(
        "Replace a per-traversal latency, e.g. os=0.5 or rdma_nic.data_copy=0.3. "
        f"Components: {', '.join(model.COMPONENTS)}; technologies: {', '.join(model.TECHNOLOGIES)}. "
        "Repeatable."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table.")
def command(overrides: tuple[str, ...], as_json: bool, **knobs: str) -> None:
    """Latency budget of remote memory (after Table 4 of the OSDI 2016 study).

    Prints each component's count and per-traversal latency for inter- and
    intra-rack paths under baseline, RDMA, and RDMA with NIC integration, the
    totals, and which application classes meet their latency targets.
    """
    result = model.compute(**knobs, overrides=_parse_overrides(overrides))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        _render(result)
