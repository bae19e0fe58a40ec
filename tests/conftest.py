"""Suite-wide test settings.

Tests that run real programs under the remote-memory emulator (tests/emu,
tests/apps) depend on process scheduling on a small shared machine (servers
that must start listening within a time limit, load generators with
deadlines), and on kernel races the emulator recovers from
(docs/notes-for-emu.md). Such a test gets one rerun after a failure or a
timeout; a real bug fails both times.
"""

from pathlib import Path

import pytest

_EMULATED = {"emu", "apps"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "tests" in parts and parts[parts.index("tests") + 1] in _EMULATED:
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=1))
