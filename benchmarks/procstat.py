"""What the benchmarks read of a process from /proc: its memory, and its CPU time and time spent waiting for a core."""

from __future__ import annotations

from pathlib import Path


def memory_mib(pid: int, field: str = "VmRSS") -> float:
    """`VmRSS` (resident now) or `VmHWM` (its peak), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} for process {pid}")


def sched(pid: int | str = "self") -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one), summed over the process's threads."""
    stats = [t.read_text().split() for t in Path(f"/proc/{pid}/task").glob("*/schedstat")]
    return sum(int(s[0]) for s in stats) / 1e9, sum(int(s[1]) for s in stats) / 1e9


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
