"""ddclab: a laboratory for disaggregated datacenters.

The main entry points:

* :func:`ddclab.simulate` runs a packet-level simulation scenario and returns a
  :class:`ddclab.Result` with ``.flows`` (a pandas DataFrame) and ``.summary``.
* ``ddclab`` on the command line (see ``ddclab --help``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version as _version

from .errors import DdclabError

try:
    __version__ = _version("ddclab")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"


def __getattr__(name):
    # Imported lazily so that `import ddclab` stays fast for the CLI and so the
    # budget model and emulator do not need the simulator extension.
    if name in ("simulate", "Result"):
        from . import simulation as _sim

        return getattr(_sim, name)
    raise AttributeError(name)


__all__ = ["simulate", "Result", "DdclabError", "__version__"]
