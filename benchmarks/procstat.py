"""What the benchmarks read of a process from /proc: its memory."""

from __future__ import annotations

from pathlib import Path


def memory_mib(pid: int, field: str = "VmRSS") -> float:
    """`VmRSS` (resident now) or `VmHWM` (its peak), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} for process {pid}")
