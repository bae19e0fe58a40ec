import subprocess
import sys
from pathlib import Path

import pytest

SMALL = """
seed = 3
[topology]
kind = "leaf-spine"
racks = 2
hosts_per_rack = 4
spines = 2
host_rate = "10Gbps"
[transport]
protocol = "dctcp"
[workload]
sizes = "imc10"
load = 0.5
flows = 200
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    p = tmp_path / "small.toml"
    p.write_text(SMALL)
    return p


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ddclab", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture
def cli():
    return run_cli
