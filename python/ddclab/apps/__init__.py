"""The application suite of the disaggregated-datacenter requirements study.

One module per application; each defines :class:`~.base.App` objects with
``install()`` (idempotent), ``unavailable()`` (why it cannot run now, or None),
``command(scale)`` for programs or ``server(scale)`` for client/server apps, the
metric, and a note on how the study's dataset is replaced. ``ddclab reproduce
ddc-requirements`` runs them under the emulator (:mod:`.emulate`).
"""

from __future__ import annotations

from ..errors import DdclabError
from .base import App
from . import memcached, memkernel, redis, spark, timely

APPS: dict[str, App] = {a.name: a for a in (memkernel.RAND, memkernel.HASHJOIN, memcached.A, memcached.B, redis.REDIS,
                                            *spark.APPS, timely.PAGERANK)}


def get(name: str) -> App:
    if name not in APPS:
        raise DdclabError(f"--apps: unknown app {name!r} (known: {', '.join(APPS)})")
    return APPS[name]


def names() -> list[str]:
    return list(APPS)
