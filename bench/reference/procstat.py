"""Peak resident memory and CPU time of a running process, read from ``/proc`` (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """``VmHWM``: the largest resident set the process has had so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (and of children it has waited for)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime + cutime + cstime) / CLOCK_TICKS


@dataclass
class Usage:
    """The last figures read for one process; kept when the process has gone."""

    pid: int
    peak_rss_mib: float = float("nan")
    cpu_s: float = float("nan")

    def sample(self) -> None:
        try:
            self.peak_rss_mib = peak_rss_mib(self.pid)
            self.cpu_s = cpu_seconds(self.pid)
        except (OSError, RuntimeError, ValueError):
            pass  # exited: keep the last figures


def combined(usages: list[Usage]) -> Usage:
    """Several processes as one: their peak resident sets and CPU seconds added up."""
    return Usage(
        usages[0].pid if usages else 0,
        sum(usage.peak_rss_mib for usage in usages),
        sum(usage.cpu_s for usage in usages),
    )
