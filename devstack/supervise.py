"""dev's own jobs (the event printer, the mailbox, the demo orders) run beside its services, and what stops it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import traceback
from collections.abc import Coroutine
from typing import Any


async def supervise(
    services: dict[str, subprocess.Popen],
    jobs: dict[str, Coroutine[Any, Any, None]],
    stop: asyncio.Event,
    exit_after: float | None,
    finite: frozenset[str] = frozenset(),
) -> int:
    """Runs dev's own jobs beside its services until Ctrl-C or `exit_after`; a service that exits, or a job
    that fails (or ends, unless it is `finite`), stops everything with exit code 1, naming it. The mailbox
    once died at start and dev ran on without it, saying nothing."""
    tasks = {asyncio.create_task(job, name=name): name for name, job in jobs.items()}
    deadline = time.monotonic() + exit_after if exit_after else None
    code = 0
    try:
        while not stop.is_set():
            dead = {name: p.returncode for name, p in services.items() if p.poll() is not None}
            if dead:
                print(f"dev: service exited: {dead}; stopping", file=sys.stderr)
                code = 1
                break
            failed = [task for task in tasks if task.done() and (task.exception() or tasks[task] not in finite)]
            if failed:
                for task in failed:
                    _report_job_death(tasks[task], task.exception())
                code = 1
                break
            if deadline and time.monotonic() > deadline:
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.5)
            except TimeoutError:
                pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return code


def _report_job_death(name: str, error: BaseException | None) -> None:
    if error is None:
        print(f"dev: the {name} stopped by itself; stopping", file=sys.stderr)
        return
    trace = "".join(traceback.format_exception(error))
    print(f"dev: the {name} failed; stopping\n{trace}", file=sys.stderr, end="")
