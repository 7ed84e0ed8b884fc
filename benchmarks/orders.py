"""What the connector benchmark reads back: `orders.received`, in the background, with when each order arrived."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import ORDERS_RECEIVED


class OrderReader:
    """Reads `orders.received` in the background: {order id: monotonic time first read}, and repeats."""

    def __init__(self, bootstrap: str, store_id: str) -> None:
        self.bootstrap, self.prefix = bootstrap, f"woocommerce:{store_id}:"
        self.seen: dict[str, float] = {}
        self.stamps: dict[str, int] = {}  # order id → the record's timestamp (ms, set by the publisher)
        self.twice = 0
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> OrderReader:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=10
        )
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(ORDERS_RECEIVED)
        self._consumer.assign([TopicPartition(ORDERS_RECEIVED, p) for p in partitions])
        await self._consumer.seek_to_beginning()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def _read(self) -> None:
        while True:
            for records in (await self._consumer.getmany(timeout_ms=100)).values():
                now = time.monotonic()
                for r in records:
                    order_id = r.key.decode().removeprefix(self.prefix)
                    self.twice += order_id in self.seen
                    self.seen.setdefault(order_id, now)
                    self.stamps.setdefault(order_id, r.timestamp)

    async def wait_for(self, order_ids: list[str], timeout: float) -> int:
        """How many of `order_ids` were read, waiting up to `timeout` s for all of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(k in self.seen for k in order_ids):
            await asyncio.sleep(0.1)
        return sum(k in self.seen for k in order_ids)
