"""The reconciling poll against the real broker and Redis, with a WooCommerce sandbox served in-process.

The sandbox app is reached through httpx's ASGI transport (no sockets); the
intake, cursor and dedupe are the real ones. Each test has a store of its own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.asyncio import Redis

from connectors.client import PlatformClient, RetryableError
from connectors.intake import Intake
from connectors.poller import StorePoller
from connectors.seen import Cursor
from connectors.woocommerce import ADAPTER
from plumbing.config import StoreConfig
from sandboxes.base import Faults, OrderSpec, SandboxState, make_sandbox_app
from sandboxes.woocommerce import SANDBOX
from schemas import ORDERS_RECEIVED, OrderReceived, OrderUpdated, decode
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
        self.intake = Intake(ADAPTER, producer, redis)
        self.cursor = Cursor(redis, "woocommerce", self.store.store_id)

    def poller(self, intake: Intake | None = None) -> StorePoller:
        return StorePoller(ADAPTER, self.store, self.api, intake or self.intake, self.cursor)

    def place(self, n: int) -> list[dict]:
        placed = [SANDBOX.new_order(self.state, OrderSpec(webhook=False)) for _ in range(n)]
        self.state.orders.update({str(raw["id"]): raw for raw in placed})
        return placed


class CrashingIntake:
    """Publishes the first page, then dies halfway through the second: part published, cursor not moved."""

    def __init__(self, real: Intake, published_of_second: int) -> None:
        self._real, self._partial, self.pages = real, published_of_second, 0

    async def accept(self, store, raws, source):
        self.pages += 1
        if self.pages == 1:
            return await self._real.accept(store, raws, source)
        await self._real.accept(store, raws[: self._partial], source)
        raise RuntimeError("connector killed mid-page")


def modified(raw: dict) -> datetime:
    return datetime.fromisoformat(raw["date_modified_gmt"]).replace(tzinfo=UTC)


def asked(moment: datetime) -> str:
    """`modified_after` as the WooCommerce client sends it: UTC, no zone, whole seconds."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class Topic:
    """orders.received from the point a test began up to its high watermark at the time of asking.

    Read to the high watermark of fetch responses: the embedded broker's ListOffsets answers the base
    offset of the last batch + 1, not the end, so `end_offsets` undercounts after batched produces (it
    still serves as a start: it can only be too early, and other stores' events are filtered out).
    """

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._start: dict[TopicPartition, int] = {}

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
        )

    async def begin(self) -> Topic:
        consumer = self._consumer()
        await consumer.start()
        try:
            partitions = [TopicPartition(ORDERS_RECEIVED, p) for p in consumer.partitions_for_topic(ORDERS_RECEIVED)]
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
        return [decode(ORDERS_RECEIVED, r.value) for r in found if r.key.startswith(prefix)]


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


async def test_a_crash_mid_page_loses_nothing_and_publishes_nothing_twice(make_shop, topic: Topic):
    shop = make_shop(lookback=timedelta(seconds=10))  # orders are placed one second apart
    placed = shop.place(250)  # three pages: 100, 100, 50
    crashing = CrashingIntake(shop.intake, published_of_second=40)

    with pytest.raises(RuntimeError, match="mid-page"):
        await shop.poller(crashing).poll_once()
    assert await shop.cursor.get() == modified(placed[99])  # the first page's newest, not a line further
    assert len(await topic.events_for(shop.store)) == 140

    assert await shop.poller().poll_once() == 10 + 150  # from cursor - lookback: page 1's last ten, then the rest
    assert shop.transport.modified_after[-1] == asked(modified(placed[99]) - timedelta(seconds=10))
    assert await shop.cursor.get() == modified(placed[-1])

    events = await topic.events_for(shop.store)
    assert all(isinstance(e, OrderReceived) for e in events)
    published = Counter(e.platform_order_id for e in events)
    assert set(published) == {str(raw["id"]) for raw in placed}
    assert [order for order, times in published.items() if times > 1] == []


async def test_the_next_poll_starts_at_the_cursor_minus_the_lookback(shop: Shop, topic: Topic):
    first = shop.place(3)
    await shop.poller().poll_once()
    assert shop.transport.modified_after == [asked(shop.store.start_from - LOOKBACK)]
    assert await shop.cursor.get() == modified(first[-1])

    await shop.poller().poll_once()  # everything re-read is unchanged: nothing new, the cursor stays
    assert shop.transport.modified_after[-1] == asked(modified(first[-1]) - LOOKBACK)
    assert await shop.cursor.get() == modified(first[-1])

    later = shop.place(2)
    await shop.poller().poll_once()
    assert await shop.cursor.get() == modified(later[-1])
    assert len(await topic.events_for(shop.store)) == 5


async def test_the_cursor_only_moves_forward(shop: Shop):
    orders = shop.place(3)
    ahead = modified(orders[-1]) + timedelta(minutes=2)
    await shop.cursor.advance(ahead)  # a previous poll got further (an order since trashed, say)

    assert await shop.poller().poll_once() == 3  # the lookback re-reads all three, each older than the cursor
    assert shop.transport.modified_after == [asked(ahead - LOOKBACK)]
    assert await shop.cursor.get() == ahead


async def test_a_failed_poll_leaves_the_cursor_where_it_was(shop: Shop, topic: Topic):
    before = shop.place(2)
    await shop.poller().poll_once()
    cursor = await shop.cursor.get()
    shop.place(3)
    shop.state.faults = Faults(server_error=ATTEMPTS + 2)
    calls = shop.state.api_calls

    with pytest.raises(RetryableError):
        await shop.poller().poll_once()
    assert shop.state.api_calls - calls == ATTEMPTS
    assert await shop.cursor.get() == cursor
    assert len(await topic.events_for(shop.store)) == len(before)

    await shop.poller().poll_once()  # the platform recovers after two more errors: the poll catches up
    assert await shop.cursor.get() > cursor
    events = await topic.events_for(shop.store)
    assert len(events) == 5 and not any(isinstance(e, OrderUpdated) for e in events)


async def run_for(pollers: list[StorePoller], seconds: float) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in pollers]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)


async def test_copies_of_a_connector_take_turns_polling_a_store(shop: Shop):
    """Three copies spend about one copy's API calls; whoever asks first in an interval polls."""
    shop.store = shop.store.model_copy(update={"poll_interval": timedelta(milliseconds=300)})
    await run_for([shop.poller()], 1.5)
    alone = len(shop.transport.modified_after)
    shop.transport.modified_after.clear()
    await asyncio.sleep(0.3)  # the lone copy's last turn runs out
    await run_for([shop.poller(), shop.poller(), shop.poller()], 1.5)
    together = len(shop.transport.modified_after)

    assert alone >= 4  # a lone copy polls every interval: its turn is always free by its next one
    # At most one poll in any 240 ms (the turn): 1.5 s holds 7 turns at most, and three copies without turns
    # would poll about three times as often as one.
    assert 1 <= together <= 7 and together < 2 * alone


async def test_a_turn_is_taken_once_and_free_again_when_it_runs_out(shop: Shop):
    interval = timedelta(milliseconds=200)
    assert await shop.cursor.take_turn(interval)
    assert not await shop.cursor.take_turn(interval)  # another copy asking in the same interval
    await asyncio.sleep(0.2)
    assert await shop.cursor.take_turn(interval)
