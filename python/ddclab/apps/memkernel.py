"""C memory kernels (apps/memkernel/memkernel.c): random access and a hash join.

Not in the study: they are the suite's cheap, deterministic members, small
enough for CI, and they bracket the real applications -- uniform random access
is the worst case for a small local memory, a zipfian hash-join probe is a
skewed, cache-friendly one.
"""

from __future__ import annotations

from .base import App, build_c

#: (MiB, operations) per scale; sized so a zero-delay run at 25% local takes
#: ~0.2 s (tiny), ~1-3 s (small) on the 2-core VM. (hashjoin at small was
#: 48 MiB / 100k probes: 5 s at 25% local and 11-23 s at 10% or 40 us, a
#: third of small's whole budget.)
SIZES = {
    "rand": {"tiny": (8, 2_000), "small": (48, 12_000), "paper": (1024, 2_000_000)},
    "hashjoin": {"tiny": (4, 5_000), "small": (24, 40_000), "paper": (2048, 50_000_000)},
}


def binary():
    return build_c("memkernel/memkernel.c", "memkernel")


def _install() -> None:
    binary()


def _unavailable() -> str | None:
    try:
        binary()
    except Exception as exc:  # DdclabError: missing compiler or source
        return str(exc)
    return None


def _app(mode: str, title: str, substitution: str) -> App:
    def command(scale: str) -> list[str]:
        mib, ops = SIZES[mode][scale]
        return [str(binary()), mode, str(mib), str(ops), "1"]

    return App(name=f"kernel-{mode}", title=title, metric="runtime", substitution=substitution,
               install=_install, unavailable=_unavailable, command=command, single_threaded=True)


RAND = _app("rand", "C kernel: uniform random read-modify-write",
            "Not a study application: a synthetic worst case (uniform random 8-byte updates over an array).")
HASHJOIN = _app("hashjoin", "C kernel: hash-join probe (zipfian keys)",
                "Not a study application: a hash table built from generated rows, probed with zipfian (theta 0.99) keys.")
