"""A copy's work in flight, up to a number of slots: what the scheduler and the webhook worker both run on.

Each claimed item starts at once as its own task, so one slow item never holds another; a loop with no
free slot, or nothing due, pauses until a task ends, its stop is set, or `idle_s` passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Slots:
    def __init__(self, size: int) -> None:
        self.size = size
        self._running: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()

    @property
    def free(self) -> int:
        return self.size - len(self._running)

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._done)

    async def pause(self, stop: asyncio.Event, idle_s: float) -> None:
        self._freed.clear()
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._freed.wait())]
        try:
            await asyncio.wait(waits, timeout=idle_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def drain(self) -> None:
        """Wait until every task in flight, and any it started meanwhile, has ended."""
        while self._running:
            await asyncio.wait(set(self._running))

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._freed.set()
