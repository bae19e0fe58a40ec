"""Where the built shim and tools are.

Order: ``$DDCLAB_MEMU_DIR``, then ``$CARGO_TARGET_DIR/release``, then
``target/release`` of the repository this package sits in (``make build`` puts
them there). Each candidate must hold the shim itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DdclabError

SHIM = "libddclab_memu.so"
FAULTCOST = "memu-faultcost"
FLOOR = "memu-uffd-floor"
BLADE = "memu-blade"


def _candidates() -> list[Path]:
    out = []
    if os.environ.get("DDCLAB_MEMU_DIR"):
        out.append(Path(os.environ["DDCLAB_MEMU_DIR"]))
    if os.environ.get("CARGO_TARGET_DIR"):
        out.append(Path(os.environ["CARGO_TARGET_DIR"]) / "release")
    repo = Path(__file__).resolve().parents[3]
    out.append(repo / "target" / "release")
    return out


def memu_dir() -> Path:
    if os.environ.get("DDCLAB_MEMU_DIR"):
        d = Path(os.environ["DDCLAB_MEMU_DIR"])
        if not (d / SHIM).is_file():
            raise DdclabError(f"DDCLAB_MEMU_DIR={d}: no {SHIM} there (run `make build`)")
        return d
    for d in _candidates():
        if (d / SHIM).is_file():
            return d
    raise DdclabError(f"the emulator is not built: no {SHIM} in target/release (run `make build`, or set DDCLAB_MEMU_DIR)")


def shim() -> Path:
    return memu_dir() / SHIM


def tool(name: str) -> Path:
    p = memu_dir() / name
    if not p.is_file():
        raise DdclabError(f"the emulator tool {name} is not built in {p.parent} (run `make build`)")
    return p
