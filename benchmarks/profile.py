"""Where a service's CPU goes under a benchmark's load: py-spy samples the process from outside.

`--profile DIR` on a benchmark records the service during its loaded phase into `DIR/<name>.txt` (py-spy's
collapsed stacks; `flamegraph.pl` or speedscope draw them) and prints the frames holding most samples, with
their own share ("self") and their share including what they call ("total"). Proportions, not absolute
times, are what to read on a shared machine. py-spy comes with the `bench` extra: `pip install -e ".[bench]"`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def start(pid: int, out: Path, seconds: float, rate: int = 250) -> subprocess.Popen:
    """py-spy on `pid` for `seconds`, without pausing it (`--nonblocking`: the target keeps its pace)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def top(collapsed: Path, count: int = 25) -> list[str]:
    """The frames with the most samples: `total %  self %  function (file:line)`."""
    totals, selves, samples = Counter(), Counter(), 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = [_short(f) for f in stack.split(";")]  # py-spy leaves out samples of an idle (waiting) thread
        samples += int(n)
        selves[frames[-1]] += int(n)
        for frame in set(frames):
            totals[frame] += int(n)
    if not samples:
        return ["no busy samples"]
    rows = [f"{totals[f] / samples:6.1%} {selves[f] / samples:6.1%}  {f}" for f, _ in totals.most_common(count)]
    return [f"{samples} busy samples; total  self  frame", *rows]


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]  # one row per function, not per line
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"
