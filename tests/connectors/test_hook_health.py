"""The webhook health schedule (`connectors.hook_health`): the poll rate follows the verdict, copies take turns,
a revoked grant disconnects, and the schedule exists only where a platform registers webhooks and we have a
public address."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import cast

import pytest
from redis.asyncio import Redis

from connectors.client import PlatformClient
from connectors.errors import GrantRevokedError
from connectors.hook_health import HookKeeper
from connectors.subscriptions import HookHealth
from plumbing.config import StoreConfig

STORE = StoreConfig(
    platform="woocommerce",
    store_id="health-shop",
    merchant_email="m@example.com",
    base_url="https://shop.example.com",
    poll_interval=timedelta(seconds=60),
)
API = cast(PlatformClient, None)  # the fake `ensure` never calls the platform
WANTED = ("order.created", "order.updated")


class MemoryTurns:
    """The Redis turns' twin: one checker per store per hold, and the verdict it told."""

    def __init__(self) -> None:
        self.held: dict[str, float] = {}  # store id -> until (the loop's clock)
        self.verdicts: dict[str, bool] = {}

    async def take(self, platform: str, store_id: str, hold: timedelta) -> bool:
        now = asyncio.get_running_loop().time()
        if self.held.get(store_id, 0.0) > now:
            return False
        self.held[store_id] = now + hold.total_seconds()
        return True

    async def tell(self, platform: str, store_id: str, healthy: bool, keep: timedelta) -> None:
        self.verdicts[store_id] = healthy

    async def told(self, platform: str, store_id: str) -> bool | None:
        return self.verdicts.get(store_id)


class Ensure:
    def __init__(self, *answers: HookHealth | Exception) -> None:
        self.answers, self.calls = list(answers), []

    async def __call__(self, api: PlatformClient, store: StoreConfig, callback_url: str) -> HookHealth:
        self.calls.append(callback_url)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def keeper(ensure: Ensure, turns: MemoryTurns | None = None, interval_s: float = 900) -> HookKeeper:
    return HookKeeper(
        "woocommerce",
        ensure,
        "https://connect.example.com/",
        turns or MemoryTurns(),
        timedelta(seconds=interval_s),
        healthy_poll_factor=5,
        rng=lambda: 0.0,
    )


HEALTHY = HookHealth(WANTED, found_active=WANTED)
REPAIRED = HookHealth(WANTED, found_active=("order.updated",), revived=("order.created",))
BROKEN = HookHealth(WANTED, found_active=("order.updated",), problems=("order.created: not created",))


async def test_the_poll_slows_only_while_the_webhooks_are_found_healthy() -> None:
    kept = keeper(Ensure(REPAIRED, HEALTHY, BROKEN, RuntimeError("store away")))
    assert kept.poll_interval(STORE) == timedelta(seconds=60)  # never checked: full rate
    await kept.check(STORE, API)
    assert kept.poll_interval(STORE) == timedelta(seconds=60)  # repaired just now: the poll reads what was missed
    await kept.check(STORE, API)
    assert kept.poll_interval(STORE) == timedelta(seconds=300)  # all delivering: five times slower
    await kept.check(STORE, API)
    assert kept.poll_interval(STORE) == timedelta(seconds=60)  # something could not be made right
    kept.forget(STORE.store_id)
    assert kept.poll_interval(STORE) == timedelta(seconds=60)


async def test_the_callback_is_our_public_address_and_the_stores_webhook_path() -> None:
    ensure = Ensure(HEALTHY)
    await keeper(ensure).check(STORE, API)
    assert ensure.calls == ["https://connect.example.com/webhooks/woocommerce/health-shop"]


async def test_a_failing_check_keeps_the_poll_at_full_rate_and_the_schedule_going() -> None:
    ensure = Ensure(HEALTHY, RuntimeError("the store answered 500"), HEALTHY)
    kept = keeper(ensure, interval_s=0.01)
    kept.watch(STORE, API)
    try:
        await _until(lambda: len(ensure.calls) >= 3)
    finally:
        await kept.stop()
    assert not kept._tasks


async def test_copies_take_turns_and_the_other_copy_takes_the_verdict() -> None:
    turns = MemoryTurns()
    first, second = Ensure(HEALTHY), Ensure(HEALTHY)
    one, other = keeper(first, turns, interval_s=3600), keeper(second, turns, interval_s=3600)
    one.watch(STORE, API)
    await _until(lambda: STORE.store_id in turns.verdicts)
    other.watch(STORE, API)
    await _until(lambda: other.healthy(STORE.store_id))
    await one.stop()
    await other.stop()
    assert (len(first.calls), len(second.calls)) == (1, 0)  # one check per store per interval across copies
    assert other.poll_interval(STORE) == timedelta(seconds=60)  # forgotten once stopped


async def test_a_revoked_grant_found_by_a_check_disconnects_the_store_once() -> None:
    told: list[tuple[str, str, str]] = []

    async def disconnect(platform: str, store_id: str, reason: str) -> None:
        told.append((platform, store_id, reason))

    ensure = Ensure(GrantRevokedError("WooCommerce refused the store's API key (401)"))
    kept = keeper(ensure, interval_s=0.01)
    kept.watch(STORE, API, disconnect)
    await _until(lambda: told)
    await asyncio.sleep(0.05)  # the schedule ended: no second check, no second disconnect
    await kept.stop()
    assert told == [("woocommerce", "health-shop", "WooCommerce refused the store's API key (401)")]
    assert len(ensure.calls) == 1


def test_no_schedule_without_a_public_address_or_a_subscriptions_module(monkeypatch) -> None:
    redis = cast(Redis, None)
    monkeypatch.delenv("PERSONALIZE_CONNECT_BASE_URL", raising=False)
    assert HookKeeper.for_platform("woocommerce", redis) is None
    monkeypatch.setenv("PERSONALIZE_CONNECT_BASE_URL", "https://connect.example.com")
    monkeypatch.setenv("PERSONALIZE_WEBHOOK_HEALTH_INTERVAL", "2m")
    kept = HookKeeper.for_platform("woocommerce", redis)
    assert (
        kept is not None and kept.callback_url(STORE) == "https://connect.example.com/webhooks/woocommerce/health-shop"
    )
    assert kept._interval == timedelta(minutes=2)
    assert HookKeeper.for_platform("etsy", redis) is None  # per-app webhooks: nothing to register per store


async def _until(check, within_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.005)


@pytest.fixture(autouse=True)
def _no_connect_settings(monkeypatch) -> None:
    for name in ("PERSONALIZE_WOOCOMMERCE_CLIENT_ID", "PERSONALIZE_WOOCOMMERCE_AUTH_URL"):
        monkeypatch.delenv(name, raising=False)
