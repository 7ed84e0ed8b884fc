"""A WooCommerce sandbox store with the real poll machinery, and a reader of what reached a topic: what the poll
tests share. The sandbox app is reached through httpx's ASGI transport (no sockets); the intake, cursor and
dedupe are the real ones. Each test has a store of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.asyncio import Redis

from connectors.client import PlatformClient
from connectors.intake import Intake
from connectors.poller import StorePoller
from connectors.seen import Cursor
from connectors.woocommerce import ADAPTER
from plumbing.config import StoreConfig
from sandboxes.base import OrderSpec, SandboxState, make_sandbox_app
from sandboxes.woocommerce import SANDBOX
from schemas import ORDERS_RECEIVED, decode
from tests.support import unique_id

ATTEMPTS = 3
LOOKBACK = timedelta(minutes=5)


class Recording(httpx.AsyncBaseTransport):
    """The sandbox's ASGI transport, noting the `modified_after` of every listing asked for."""

    def __init__(self, app) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.modified_after: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "modified_after" in request.url.params:
            self.modified_after.append(request.url.params["modified_after"])
        return await self._inner.handle_async_request(request)


class Shop:
    """One store: its sandbox (empty, no webhooks), a client into it, and the real poll machinery."""

    def __init__(self, producer: AIOKafkaProducer, redis: Redis, lookback: timedelta = LOOKBACK) -> None:
        self.store = StoreConfig(
            platform="woocommerce",
            store_id=f"poll-{unique_id()}",
            merchant_email="m@example.com",
            base_url="https://woo.sandbox",
            credentials={"consumer_key": "ck", "consumer_secret": "cs"},
            start_from=datetime(2000, 1, 1, tzinfo=UTC),
            lookback=lookback,
        )
        app = make_sandbox_app(SANDBOX, self.store)
        self.state: SandboxState = app.state.sandbox
        self.state.orders.clear()  # not the documented examples: only what a test places
        self.transport = Recording(app)
        self.api = PlatformClient(
            "woocommerce",
            self.store.base_url,
            auth=ADAPTER.auth(self.store),
            attempts=ATTEMPTS,
            backoff_initial_s=0.01,
            backoff_max_s=0.02,
            transport=self.transport,
        )
        self.redis = redis
        self.intake = Intake(ADAPTER, producer, redis)
        self.cursor = Cursor(redis, "woocommerce", self.store.store_id)

    def poller(self, intake: Intake | None = None, **options: Any) -> StorePoller:
        return StorePoller(ADAPTER, self.store, self.api, intake or self.intake, self.cursor, **options)

    def place(self, n: int, spec: OrderSpec | None = None) -> list[dict]:
        placed = [SANDBOX.new_order(self.state, spec or OrderSpec(webhook=False)) for _ in range(n)]
        self.state.orders.update({str(raw["id"]): raw for raw in placed})
        return placed


def modified(raw: dict) -> datetime:
    return datetime.fromisoformat(raw["date_modified_gmt"]).replace(tzinfo=UTC)


def asked(moment: datetime) -> str:
    """`modified_after` as the WooCommerce client sends it: UTC, no zone, whole seconds."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class Topic:
    """A topic (orders.received unless named) from the point a test began up to its high watermark when asked.

    Read to the high watermark of fetch responses: the embedded broker's ListOffsets answers the base
    offset of the last batch + 1, not the end, so `end_offsets` undercounts after batched produces (it
    still serves as a start: it can only be too early, and other stores' events are filtered out).
    """

    def __init__(self, bootstrap: str, name: str = ORDERS_RECEIVED) -> None:
        self._bootstrap, self._name = bootstrap, name
        self._start: dict[TopicPartition, int] = {}

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
        )

    async def begin(self) -> Topic:
        consumer = self._consumer()
        await consumer.start()
        try:
            partitions = [TopicPartition(self._name, p) for p in consumer.partitions_for_topic(self._name)]
            self._start = await consumer.end_offsets(partitions)
        finally:
            await consumer.stop()
        return self

    async def events_for(self, store: StoreConfig) -> list:
        """Every event published for the store since the test began (publishing had been acknowledged)."""
        consumer, found = self._consumer(), []
        await consumer.start()
        try:
            consumer.assign(list(self._start))
            for tp, offset in self._start.items():
                consumer.seek(tp, offset)
            while not await _caught_up(consumer, list(self._start)):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += records
        finally:
            await consumer.stop()
        prefix = f"{store.key}:".encode()
        return [decode(self._name, r.value) for r in found if r.key.startswith(prefix)]


async def _caught_up(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> bool:
    for tp in partitions:
        highwater = consumer.highwater(tp)  # None until a fetch of this partition answered
        if highwater is None or await consumer.position(tp) < highwater:
            return False
    return True


@pytest.fixture
async def make_shop(producer: AIOKafkaProducer, redis: Redis):
    built: list[Shop] = []

    def make(**options) -> Shop:
        built.append(Shop(producer, redis, **options))
        return built[-1]

    yield make
    for shop in built:
        await shop.api.aclose()


@pytest.fixture
def shop(make_shop) -> Shop:
    return make_shop()


@pytest.fixture
async def topic(bootstrap: str, topics: list[str]):
    return await Topic(bootstrap).begin()
