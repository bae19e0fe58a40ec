"""Remote-memory emulator front end: drives the ddclab-memu shim and tools.

The Rust side (crates/memu) builds ``libddclab_memu.so`` (the LD_PRELOAD shim)
and ``memu-faultcost``; this package finds them (:mod:`.paths`), parses the
user's units (:mod:`.units`), runs programs under emulation with calibration
and baselines (:mod:`.runner`), reads the shim's counters (:mod:`.stats`) and
traces (:mod:`.trace`), and fits runtime against injected delay (:mod:`.fit`).
Nothing here needs the ``_core`` extension.
"""
