"""Running the packet-level simulator from Python: :func:`simulate` and
:class:`Result`.

``ddclab.simulate(scenario)`` takes a scenario file path, TOML text or a
dictionary, runs it in the Rust simulator and returns a :class:`Result` with
the per-flow table (``.flows``, a pandas DataFrame), the summary
(``.summary``), the pending-bytes time series (``.pending``), per-tenant
delivered bytes over time (``.tenants``) and per-port
statistics (``.ports``). ``Result.write(out_dir)`` writes exactly what
``ddclab sim run`` writes.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from . import atomic
from .errors import DdclabError
from .jsonsafe import json_safe
from .tomlwrite import dumps
from .trace import read_trace

#: Files ``Result.write`` produces (besides the report and plots).
OUTPUT_FILES = ["flows.parquet", "summary.json", "pending.parquet", "tenants.parquet", "ports.parquet", "scenario.toml", "run.json"]


def _core():
    try:
        from . import _core
    except ImportError as exc:  # pragma: no cover - only without a build
        raise DdclabError(f"the simulator extension is not built ({exc}); run `make build`") from None
    return _core


@dataclass
class Result:
    """The outcome of one simulation."""

    flows: pd.DataFrame
    summary: dict[str, Any]
    pending: pd.DataFrame
    ports: pd.DataFrame
    #: Payload bytes delivered to each tenant's destinations so far, sampled
    #: with ``pending``: columns ``time_us``, ``tenant``, ``delivered_bytes``.
    tenants: pd.DataFrame
    warnings: list[str]
    scenario_text: str
    run: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<Result {s.get('protocol')}: {s.get('completed')}/{s.get('flows')} flows, "
            f"mean slowdown {s.get('mean_slowdown', float('nan')):.3f}>"
        )

    def write(self, out_dir: str | os.PathLike, *, report: bool = True) -> dict[str, Path]:
        """Write ``flows.parquet``, ``summary.json``, ``pending.parquet``,
        ``tenants.parquet``, ``ports.parquet``, ``scenario.toml`` and ``run.json`` (and, with
        ``report``, ``report.html`` and ``plots/``) into ``out_dir``. Every file
        is written atomically. All but ``run.json`` (wall time) are identical
        for identical inputs."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {name: out / name for name in OUTPUT_FILES}
        write_parquet(self.flows, paths["flows.parquet"])
        write_parquet(self.pending, paths["pending.parquet"])
        write_parquet(self.tenants, paths["tenants.parquet"])
        write_parquet(self.ports, paths["ports.parquet"])
        atomic.write_text(paths["summary.json"], to_json(self.summary))
        atomic.write_text(paths["scenario.toml"], self.scenario_text)
        atomic.write_text(paths["run.json"], to_json(self.run))
        if report:
            from .report import write_sim_report

            rep = write_sim_report(out, self.flows, self.summary, self.pending, self.scenario_text)
            paths["report.html"] = Path(rep.html)
        return paths


def to_json(data: Mapping[str, Any]) -> str:
    """JSON with NaN written as null (strict JSON has no NaN)."""
    return json.dumps(json_safe(dict(data)), indent=2, sort_keys=False) + "\n"


def write_parquet(frame: pd.DataFrame, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Pandas metadata is deterministic; keep it so types round-trip.
    atomic.write_with(target, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def load_scenario(scenario: str | os.PathLike | Mapping[str, Any]) -> tuple[str, str, Path]:
    """Resolve a scenario argument to (TOML text, name for messages, base directory
    for relative paths)."""
    if isinstance(scenario, Mapping):
        return dumps(scenario), "<dict>", Path.cwd()
    if isinstance(scenario, os.PathLike) or (isinstance(scenario, str) and "\n" not in scenario and "=" not in scenario):
        path = Path(scenario)
        if not path.exists():
            raise DdclabError(f"scenario file {path} does not exist")
        if path.is_dir():
            raise DdclabError(f"scenario {path} is a directory, not a TOML file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DdclabError(f"scenario file {path}: cannot read it ({exc})") from None
        return text, str(path), path.resolve().parent
    if isinstance(scenario, str):
        return scenario, "<text>", Path.cwd()
    raise DdclabError(f"scenario must be a path, TOML text or a dict, not {type(scenario).__name__}")


def _effective(text: str, overrides: Sequence[str]) -> dict[str, Any]:
    """The scenario as a dict with overrides applied (for the front end's own
    use: trace and CDF paths). The simulator validated it already."""
    data = tomllib.loads(text)
    for ov in overrides:
        key, _, raw = ov.partition("=")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        cur = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = value
    return data


def _resolve_paths(text: str, overrides: list[str], base: Path) -> tuple[list[str], Path | None]:
    """Make a relative CDF path absolute (relative to the scenario file) and
    find the trace file, if the workload has one."""
    data = _effective(text, overrides)
    wl = data.get("workload", {}) if isinstance(data.get("workload"), dict) else {}
    extra: list[str] = []
    sizes = wl.get("sizes")
    builtin = set(_core().builtin_distributions()) | {"bimodal", "fixed"}
    if isinstance(sizes, str) and sizes not in builtin:
        p = Path(sizes)
        if not p.is_absolute():
            p = base / p
        if not p.exists():
            raise DdclabError(
                f"workload.sizes: {sizes!r} is neither a built-in distribution "
                f"({', '.join(sorted(builtin))}) nor an existing CDF file"
            )
        extra.append(f"workload.sizes={json.dumps(str(p))}")
    tenant_sizes = wl.get("tenant_sizes")
    if isinstance(tenant_sizes, list) and any(isinstance(t, str) and t not in builtin for t in tenant_sizes):
        resolved = []
        for t in tenant_sizes:
            if isinstance(t, str) and t not in builtin:
                p = Path(t) if Path(t).is_absolute() else base / t
                if not p.exists():
                    raise DdclabError(f"workload.tenant_sizes: {t!r} is neither a built-in distribution nor an existing CDF file")
                t = str(p)
            resolved.append(t)
        extra.append("workload.tenant_sizes=[" + ", ".join(json.dumps(t) for t in resolved) + "]")
    trace = None
    if wl.get("kind") == "trace":
        t = wl.get("trace")
        if isinstance(t, str):
            trace = Path(t) if Path(t).is_absolute() else base / t
    return extra, trace


def simulate(
    scenario: str | os.PathLike | Mapping[str, Any],
    *,
    overrides: Sequence[str] = (),
    progress: Callable[[int, int, float], None] | None = None,
) -> Result:
    """Run a simulation scenario (a TOML file path, TOML text or a dict) and
    return its :class:`Result`. ``overrides`` are ``"dotted.key=value"``
    settings applied on top, as with the CLI's ``--set``. ``progress(done,
    total, sim_time_us)`` is called as the run advances."""
    core = _core()
    text, source, base = load_scenario(scenario)
    overrides = [str(o) for o in overrides]
    try:
        warnings = core.check_scenario(text, source, overrides)
        extra, trace_path = _resolve_paths(text, overrides, base)
        trace = read_trace(trace_path) if trace_path is not None else None
        raw = core.simulate(text, source, overrides + extra, trace, progress)
    except core.ScenarioError as exc:
        raise DdclabError(str(exc)) from None
    flows = pd.DataFrame(raw["flows"])
    summary = dict(raw["summary"])
    run = {k: summary.pop(k) for k in ["wall_s", "events", "packet_hops"] if k in summary}
    run["events_per_s"] = run["events"] / run["wall_s"] if run.get("wall_s") else None
    from . import __version__

    run["ddclab_version"] = __version__
    effective = text if not overrides else text.rstrip("\n") + "\n\n# overrides (--set)\n" + "".join(f"# {o}\n" for o in overrides)
    return Result(
        flows=flows,
        summary=summary,
        pending=pd.DataFrame(raw["pending"]),
        tenants=pd.DataFrame(raw["tenants"]),
        ports=pd.DataFrame(raw["ports"]),
        warnings=list(dict.fromkeys(list(warnings) + list(raw["warnings"]))),
        scenario_text=effective,
        run=run,
    )
