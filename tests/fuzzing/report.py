"""Reports how many cases each fuzz target tried, at the end of the run and in `test-artifacts/fuzz-cases.json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fuzzing.strategies import CASES, PROFILE

ARTIFACT = Path(__file__).parents[2] / "test-artifacts" / "fuzz-cases.json"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CASES:
        return
    terminalreporter.section(f"fuzz cases tried ({PROFILE})")
    for target, n in sorted(CASES.items()):
        terminalreporter.write_line(f"{n:>7}  {target}")
    terminalreporter.write_line(f"{sum(CASES.values()):>7}  in all")
    try:
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        ARTIFACT.write_text(json.dumps({"profile": PROFILE, "cases": dict(sorted(CASES.items()))}, indent=1) + "\n")
    except OSError:
        pass
