"""Staying connected to a WooCommerce store, with the real poll, intake, dedupe (Redis) and broker, the sandbox
and the connector's webhook route in process: the webhook WooCommerce disabled after failed deliveries is
recreated by the next health check, the orders missed meanwhile are found by the poll, each published once; a
key the merchant revoked disconnects the store."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from connectors.client import PlatformClient
from connectors.fetcher import ThinFetcher
from connectors.hook_health import HookKeeper, RedisTurns
from connectors.intake import Intake
from connectors.poller import StorePoller
from connectors.seen import Cursor
from connectors.stores import Sealer, new_key
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.memory import MemoryStoreRegistry
from connectors.subscriptions import HookHealth
from connectors.webhooks import StoreRoutes, make_app
from connectors.woocommerce import ADAPTER
from connectors.woocommerce.subscriptions import ensure
from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.woocommerce import SANDBOX
from schemas import OrderReceived, StoreDisconnected
from tests.connectors.poll_shop import Topic, topic
from tests.support import unique_id

__all__ = ["topic"]  # a fixture, used by name

OURS = "https://connect.example.com"
HEALTH_INTERVAL = timedelta(seconds=0.5)  # 15 minutes in production; short here, the test counts checks not time


class Rig:
    def __init__(self, producer: AIOKafkaProducer, redis: Redis) -> None:
        self.store = StoreConfig(
            platform="woocommerce",
            store_id=f"health-{unique_id()}",
            merchant_email="m@example.com",
            base_url="https://woo.sandbox",
            credentials={"consumer_key": "ck_health", "consumer_secret": "cs_health"},
            webhook_secret="whs-health",
            poll_interval=timedelta(seconds=0.2),
            start_from=datetime(2000, 1, 1, tzinfo=UTC),
        )
        shop = make_sandbox_app(SANDBOX, self.store)
        self.state = shop.state.sandbox
        self.state.orders.clear()
        self.hooks = SANDBOX.hooks(self.state)
        self.shop = httpx.AsyncClient(transport=httpx.ASGITransport(app=shop), base_url=self.store.base_url)
        self.intake = Intake(ADAPTER, producer, redis)
        connector = make_app(ADAPTER, StoreRoutes(ADAPTER, {self.store.store_id: self.store}), self.intake, _NO_FETCH)
        self.connector = httpx.AsyncClient(transport=httpx.ASGITransport(app=connector), base_url=OURS)
        self.hooks.post = self._deliver
        self.api = PlatformClient(
            "woocommerce",
            self.store.base_url,
            auth=ADAPTER.auth(self.store),
            attempts=2,
            backoff_initial_s=0.01,
            transport=httpx.ASGITransport(app=shop),
        )
        self.cursor = Cursor(redis, "woocommerce", self.store.store_id)
        self.checks: list[tuple[bool, HookHealth]] = []  # (order.created was disabled when the check began, result)
        self.keeper = HookKeeper(
            "woocommerce", self._ensure, OURS, RedisTurns(redis), HEALTH_INTERVAL, 5.0, random.Random(7).random
        )

    async def _deliver(self, url: str, body: bytes, headers: dict[str, str]) -> int | str:
        return (await self.connector.post(url.removeprefix(OURS), content=body, headers=headers)).status_code

    async def _ensure(self, api: PlatformClient, store: StoreConfig, callback_url: str) -> HookHealth:
        disabled = any(h.topic == "order.created" and h.status == "disabled" for h in self.hooks.hooks.values())
        health = await ensure(api, store, callback_url)
        self.checks.append((disabled, health))
        return health

    async def place(self) -> str:
        """An order placed in the store; returns once WooCommerce made (or skipped) its deliveries."""
        before = len(self.hooks.deliveries)
        active = [h for h in self.hooks.hooks.values() if h.status == "active" and h.topic == "order.created"]
        placed = (await self.shop.post("/_sandbox/orders", json={})).json()["id"]
        await until(lambda: len(self.hooks.deliveries) >= before + len(active))
        return placed

    def delivered(self, order_id: str) -> list:
        return [d["answer"] for d in self.hooks.deliveries if d["order_id"] == order_id]


class _NoFetch:
    def enqueue(self, store: StoreConfig, order_id: str) -> bool:
        raise AssertionError("no thin delivery in this test")


_NO_FETCH = cast(ThinFetcher, _NoFetch())


async def until(check, within_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


async def test_a_webhook_the_platform_disabled_is_recreated_within_one_health_interval_and_the_orders_missed_meanwhile_are_found_by_the_poll_each_once(
    producer: AIOKafkaProducer, redis: Redis, topic: Topic
) -> None:
    rig = Rig(producer, redis)
    rig.keeper.watch(rig.store, rig.api)
    stop = asyncio.Event()
    poller = StorePoller(
        ADAPTER, rig.store, rig.api, rig.intake, rig.cursor, interval=lambda: rig.keeper.poll_interval(rig.store)
    )
    polling = asyncio.create_task(poller.run(stop))
    try:
        await until(lambda: len([h for h in rig.hooks.hooks.values() if h.status == "active"]) == 4)
        first = await rig.place()
        assert rig.delivered(first) == [200]

        # The connector is unreachable for seven deliveries: WooCommerce disables order.created on the 7th.
        await rig.shop.post("/_sandbox/hooks/fail", json={"next": 7})
        failed = [await rig.place() for _ in range(7)]
        [disabled] = [h for h in rig.hooks.hooks.values() if h.topic == "order.created"]
        assert disabled.status == "disabled"
        unsent = [await rig.place() for _ in range(2)]  # a disabled webhook delivers nothing at all
        assert all(rig.delivered(o) == ["ConnectError"] for o in failed) and all(rig.delivered(o) == [] for o in unsent)

        # The first check that found it disabled recreated it (a new webhook: its failure count starts at 0).
        await until(lambda: any(was_disabled for was_disabled, _ in rig.checks))
        first_after = next(health for was_disabled, health in rig.checks if was_disabled)
        assert first_after.revived == ("order.created",) and first_after.repaired
        [recreated] = [h for h in rig.hooks.hooks.values() if h.topic == "order.created"]
        assert (recreated.status, recreated.failure_count) == ("active", 0) and recreated.id != disabled.id
        last = await rig.place()
        assert rig.delivered(last) == [200]  # webhooks deliver again

        placed = [first, *failed, *unsent, last]
        await until_published(topic, rig.store, placed)
        published = Counter(
            e.platform_order_id for e in await topic.events_for(rig.store) if isinstance(e, OrderReceived)
        )
        assert published == Counter({str(o): 1 for o in placed})  # the nine missed found by the poll; each once
    finally:
        stop.set()
        await polling
        await rig.keeper.stop()
        await rig.api.aclose()


async def until_published(topic: Topic, store: StoreConfig, placed: list[str]) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        found = {e.platform_order_id for e in await topic.events_for(store) if isinstance(e, OrderReceived)}
        if found >= {str(o) for o in placed}:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the missed orders were not published")


async def test_a_woocommerce_key_that_now_answers_401_disconnects_the_store_and_polling_stops(
    producer: AIOKafkaProducer, redis: Redis
) -> None:
    rig = Rig(producer, redis)
    registry = MemoryStoreRegistry(Sealer([new_key()]))
    published: list = []

    async def publish(events) -> None:
        published.extend(events)

    lifecycle = StoreLifecycle(registry, publish)
    await lifecycle.connect("woocommerce", rig.store.store_id, rig.store.merchant_email, {"consumer_key": "ck_health"})
    poller = StorePoller(ADAPTER, rig.store, rig.api, rig.intake, rig.cursor, on_revoked=lifecycle.disconnect)
    [key] = SANDBOX.keys(rig.state).keys.values()
    key.revoked = True  # the merchant's Revoke in WooCommerce › Settings › Advanced › REST API
    try:
        await asyncio.wait_for(poller.run(asyncio.Event()), timeout=30)  # returns: it polls no more
    finally:
        await rig.api.aclose()
    kept = await registry.get("woocommerce", rig.store.store_id)
    assert kept is not None and kept.status == "disconnected"
    assert kept.disconnect_reason is not None and "Connect the store again" in kept.disconnect_reason
    [event] = [e for e in published if isinstance(e, StoreDisconnected)]
    assert "revoked" in event.reason and "WooCommerce › Settings › Advanced › REST API" in event.reason
    assert registry.sealed.get(("woocommerce", rig.store.store_id)) is None  # credentials deleted
