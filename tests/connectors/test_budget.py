"""The platforms' quotas, spent by every connector copy from one budget in real Redis (`connectors.budget`)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import httpx
import pytest

from connectors.budget import DAILY_BLOCK_S, OverBudgetError, Quota, RateBudget, paced
from connectors.client import PlatformClient
from plumbing.config import StoreConfig
from tests.support import unique_id


def store(platform: str, store_id: str, keystring: str = "app-key") -> StoreConfig:
    credentials = {"keystring": keystring, "access_token": "t", "shop_id": "1"} if platform == "etsy" else {}
    return StoreConfig(
        platform=platform,
        store_id=store_id,
        merchant_email="m@example.com",
        base_url="https://api.example.com",
        credentials=credentials,
    )


def budget(redis, platform: str, quota: Quota, max_wait_s: float = 30.0) -> RateBudget:
    made = RateBudget(redis, platform, quota, max_wait_s=max_wait_s)
    made.key = lambda scope, prefix=unique_id(): f"test:{prefix}:{scope}"  # type: ignore[method-assign]
    return made


async def test_copies_spend_one_budget_a_burst_at_once_then_at_the_rate(redis) -> None:
    quota = Quota(per_second=20, burst=5, per_app=True)
    one = budget(redis, "etsy", quota)
    two = RateBudget(redis, "etsy", quota)
    two.key = one.key  # type: ignore[method-assign]  # another copy: the same key
    loop = asyncio.get_running_loop()
    started = loop.time()
    for copy in (one, two, one, two, one):
        await copy.spend("app:x")
    burst = loop.time() - started
    for copy in (two, one, two, one, two, one, two, one, two, one):
        await copy.spend("app:x")
    ten_more = loop.time() - started - burst
    assert burst < 0.2, "the burst goes at once"
    assert 0.4 <= ten_more < 1.5, f"ten more at 20 a second take about half a second, took {ten_more:.2f}s"


async def test_the_app_is_one_scope_on_etsy_and_each_store_its_own_elsewhere(redis) -> None:
    etsy = RateBudget.for_platform(redis, "etsy")
    bigcommerce = RateBudget.for_platform(redis, "bigcommerce")
    assert etsy is not None and bigcommerce is not None
    assert RateBudget.for_platform(redis, "woocommerce") is None  # no quota in WooCommerce's REST API
    assert etsy.scope(store("etsy", "a")) == etsy.scope(store("etsy", "b")) != etsy.scope(store("etsy", "c", "other"))
    assert "app-key" not in etsy.scope(store("etsy", "a"))  # the API key itself is never a Redis key name
    assert bigcommerce.scope(store("bigcommerce", "a")) != bigcommerce.scope(store("bigcommerce", "b"))


async def test_a_wait_longer_than_the_limit_is_not_waited(redis) -> None:
    slow = budget(redis, "wix", Quota(per_second=0.01, burst=1, per_app=False), max_wait_s=1.0)
    await slow.spend("store:a")
    with pytest.raises(OverBudgetError, match="over the request budget") as over:
        await slow.spend("store:a")
    assert 90 < over.value.wait_s <= 100 and not over.value.blocked
    await slow.spend("store:b")  # another store's budget is untouched


def etsy_platform(answers: list[httpx.Response], asked: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return answers.pop(0)

    return httpx.MockTransport(handle)


async def test_a_429_after_the_day_ran_low_blocks_every_copy_for_hours_without_asking_again(redis) -> None:
    quota = Quota(per_second=50, burst=50, per_app=True, per_day=100_000)
    asked: list[str] = []
    low = httpx.Response(200, json={}, headers={"x-remaining-today": "3", "x-limit-per-day": "10000"})
    transport = etsy_platform([low, httpx.Response(429)], asked)
    one = budget(redis, "etsy", quota)
    api = PlatformClient("etsy", "https://api.etsy.com", transport=transport, budget=one, budget_id="app:x")
    await api.get_json("/v3/application/shops/1/receipts")
    with pytest.raises(OverBudgetError, match="daily quota") as blocked:
        await api.get_json("/v3/application/shops/1/receipts")
    assert blocked.value.wait_s == DAILY_BLOCK_S and len(asked) == 2, "refused once, not retried"

    other_copy = RateBudget(redis, "etsy", quota)
    other_copy.key = one.key  # type: ignore[method-assign]
    other = PlatformClient("etsy", "https://api.etsy.com", transport=transport, budget=other_copy, budget_id="app:x")
    with pytest.raises(OverBudgetError) as still:
        await other.get_json("/v3/application/shops/2/receipts")
    assert still.value.blocked and DAILY_BLOCK_S - 60 < still.value.wait_s <= DAILY_BLOCK_S
    assert len(asked) == 2, "no copy asks Etsy again while the day's quota is gone"
    await api.aclose()
    await other.aclose()


async def test_a_429_of_the_second_is_waited_out_and_retried_as_before(redis) -> None:
    asked: list[str] = []
    plenty = {"x-remaining-today": "9000"}
    answers = [httpx.Response(200, json={}, headers=plenty), httpx.Response(429), httpx.Response(200, json=[1])]
    quota = Quota(per_second=50, burst=50, per_app=True, per_day=100_000)
    api = PlatformClient(
        "etsy",
        "https://api.etsy.com",
        transport=etsy_platform(answers, asked),
        budget=budget(redis, "etsy", quota),
        budget_id="app:x",
        backoff_initial_s=0.01,
        backoff_max_s=0.02,
    )
    await api.get_json("/a")
    assert (await api.get_json("/b"))[0] == [1] and len(asked) == 3
    await api.aclose()


async def test_a_per_app_daily_quota_paces_each_shops_poll_and_leaves_half_for_the_rest(redis) -> None:
    etsy = RateBudget(redis, "etsy", Quota(per_second=9, burst=9, per_app=True, per_day=10_000))
    minute = timedelta(minutes=1)
    assert paced(minute, etsy, 1) == minute  # one shop: its own interval is well inside the quota
    assert paced(minute, etsy, 1000) == timedelta(hours=4.8)  # 1,000 shops share 5,000 polls a day
    polls_per_day = 1000 * timedelta(days=1) / paced(minute, etsy, 1000)
    assert polls_per_day <= 5000
    wix = RateBudget(redis, "wix", Quota(per_second=3, burst=20, per_app=False))
    assert paced(minute, wix, 1000) == minute and paced(minute, None, 1000) == minute


async def test_requests_waiting_together_each_book_a_moment_and_ask_once(redis) -> None:
    quota = Quota(per_second=20, burst=1, per_app=False)
    booking = budget(redis, "wix", quota, max_wait_s=0.3)
    script, calls = booking._spend, []

    async def counted(**kwargs):
        calls.append(kwargs)
        return await script(**kwargs)

    booking._spend = counted  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    started, went, refused = loop.time(), [], []

    async def one() -> None:
        try:
            await booking.spend("store:a")
            went.append(loop.time() - started)
        except OverBudgetError as over:
            refused.append(over.wait_s)

    await asyncio.gather(*(one() for _ in range(10)))
    assert len(calls) == 10, "one round trip each, however long it waited: no herd waking every slot"
    assert len(went) == 7 and len(refused) == 3  # booked at 0, 50 … 300 ms; the rest past the 0.3 s limit
    assert all(b - a >= 0.04 for a, b in itertools.pairwise(sorted(went))), "never faster than the rate"
    assert min(refused) > 0.3
    await asyncio.sleep(0.05)
    await booking.spend("store:a")  # the refused booked nothing: room again right after the last booked
    assert loop.time() - started < 0.5
