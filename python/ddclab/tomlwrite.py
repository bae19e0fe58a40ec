"""A small TOML writer for scenario dictionaries.

Python's standard library reads TOML but does not write it; scenarios given as
dictionaries (``ddclab.simulate({...})``, sweeps) are turned into TOML text here
so that the simulator has one input format. Supports what scenarios use:
tables, nested tables, strings, booleans, integers, floats and inline tables.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from .errors import DdclabError


def _scalar(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DdclabError(f"scenario key {key}: {value} is not a finite number")
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k} = {_scalar(v, f'{key}.{k}')}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(v, key) for v in value) + "]"
    if hasattr(value, "item"):  # numpy scalars
        return _scalar(value.item(), key)
    raise DdclabError(f"scenario key {key}: cannot write a {type(value).__name__} as TOML")


def dumps(data: Mapping[str, Any]) -> str:
    """TOML text for a mapping whose values are scalars or one level of tables
    (deeper mappings become inline tables)."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_scalar(value, key)}")
    for name, table in tables:
        lines.append("")
        lines.append(f"[{name}]")
        for key, value in table.items():
            lines.append(f"{key} = {_scalar(value, f'{name}.{key}')}")
    return "\n".join(lines) + "\n"
