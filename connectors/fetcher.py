"""Thin webhooks name an order; a few workers fetch it after the platform has its answer.

Not durable on purpose: if the process dies with fetches queued, the next
poll (cursor - lookback) reads those orders anyway.
"""

from __future__ import annotations

import asyncio
import logging

from connectors.budget import OverBudgetError
from connectors.client import PlatformClient
from connectors.intake import Intake
from connectors.platform import PlatformAdapter
from plumbing.config import StoreConfig

log = logging.getLogger(__name__)


class ThinFetcher:
    def __init__(
        self,
        adapter: PlatformAdapter,
        intake: Intake,
        clients: dict[str, PlatformClient],
        workers: int = 4,
        capacity: int = 10_000,
    ) -> None:
        self._adapter, self._intake, self._clients = adapter, intake, clients
        self._queue: asyncio.Queue[tuple[StoreConfig, str]] = asyncio.Queue(capacity)
        self._queued: set[tuple[str, str]] = set()
        self._workers = workers
        self._tasks: list[asyncio.Task] = []

    def enqueue(self, store: StoreConfig, order_id: str) -> bool:
        """Queue a fetch; False when the queue is full (the poll will find the order)."""
        key = (store.key, order_id)
        if key in self._queued:
            return True
        try:
            self._queue.put_nowait((store, order_id))
        except asyncio.QueueFull:
            log.warning("fetch queue full; %s %s is left to the poll", store.key, order_id)
            return False
        self._queued.add(key)
        return True

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def drain(self) -> None:
        await self._queue.join()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            store, order_id = await self._queue.get()
            self._queued.discard((store.key, order_id))
            try:
                raw = await self._adapter.fetch_order(self._clients[store.key], store, order_id)
                await self._intake.accept(store, [raw], source="webhook")
            except OverBudgetError as over:
                log.warning("fetching %s order %s left to the poll: %s", store.key, order_id, over)
            except Exception:  # the poll reads this order later
                log.exception("fetching %s order %s failed; the poll will read it", store.key, order_id)
            finally:
                self._queue.task_done()
