"""Keep idle CPUs polling instead of halting while an experiment runs.

Why: every remote fault hands off between threads twice (the faulting thread
sleeps in the kernel until the handler has installed the page; a sleeping
handler is woken by the fault). When the woken thread's CPU is idle, the
wake-up has to bring that CPU out of its halt. On bare metal that is about a
microsecond; on a virtual machine a halted vCPU has left the guest, and the
wake-up is an inter-processor interrupt through the hypervisor. On the
development VM that made the emulator's fault cost 90-100 us (median) instead
of the 10-20 us its own work takes -- far larger than the 1-5 us the study
is about.

How: a PM QoS request of 0 us on ``/dev/cpu_dma_latency`` makes the cpuidle
governor choose only its polling state. The idle loop then spins on the
"need to reschedule" flag, and a wake-up is a store to memory, not an
interrupt. The request lives exactly as long as the file stays open, so it
is dropped by the kernel whenever this process ends -- normally, on Ctrl-C,
or killed -- and nothing is left behind.

Cost: idle CPUs spin at 100% while the request is held (on a VM the host sees
the vCPUs busy). Both the measured runs and their zero-delay references run
under the same setting, so degradations compare like with like.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import DdclabError

DEVICE = "/dev/cpu_dma_latency"
CPUIDLE = Path("/sys/devices/system/cpu/cpuidle")
POLL_STATE = Path("/sys/devices/system/cpu/cpu0/cpuidle/state0")
MODES = ("auto", "on", "off")


@dataclass
class IdlePoll:
    """What was requested and what is in force."""

    mode: str
    active: bool
    detail: str

    def describe(self) -> str:
        return ("idle CPUs poll (PM QoS 0 us held on " + DEVICE + ")") if self.active else f"idle CPUs halt ({self.detail})"

    def to_dict(self) -> dict:
        return {"mode": self.mode, "active": self.active, "detail": self.detail}


def _cpuidle_polls() -> str | None:
    """None if the cpuidle driver has a polling state a 0 us request selects;
    else why the request would change nothing."""
    try:
        driver = (CPUIDLE / "current_driver").read_text().strip()
    except OSError:
        return "no cpuidle subsystem"
    if driver in ("", "none"):
        return "no cpuidle driver: the kernel halts idle CPUs whatever is requested"
    try:
        if (POLL_STATE / "name").read_text().strip() != "POLL":
            return f"cpuidle driver {driver} has no polling state"
    except OSError:
        return f"cpuidle driver {driver} lists no states"
    return None


class Holder:
    """Context manager: holds the request (if the mode asks for it and the
    machine allows it) from ``__enter__`` to ``__exit__``.

    ``on`` fails with a one-line error naming the device when the request
    cannot be held; ``auto`` holds it when it can and says why not otherwise;
    ``off`` never touches the device."""

    def __init__(self, mode: str = "auto", device: str = DEVICE):
        if mode not in MODES:
            raise DdclabError(f"--idle-poll {mode!r}: expected one of {', '.join(MODES)}")
        self.mode = mode
        self.device = device
        self.fd: int | None = None
        self.state = IdlePoll(mode, False, "--idle-poll off")

    def __enter__(self) -> IdlePoll:
        if self.mode == "off":
            return self.state
        why = _cpuidle_polls() if self.device == DEVICE else None
        if why is None:
            try:
                self.fd = os.open(self.device, os.O_WRONLY | os.O_CLOEXEC)
                os.write(self.fd, struct.pack("=i", 0))
            except OSError as exc:
                if self.fd is not None:
                    os.close(self.fd)
                    self.fd = None
                why = f"cannot hold a request on {self.device}: {exc.strerror}"
        if why is not None:
            if self.mode == "on":
                raise DdclabError(f"--idle-poll on: {why}")
            self.state = IdlePoll(self.mode, False, why)
        else:
            self.state = IdlePoll(self.mode, True, f"PM QoS 0 us on {self.device}")
        return self.state

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # the kernel drops the request with the file
            self.fd = None
