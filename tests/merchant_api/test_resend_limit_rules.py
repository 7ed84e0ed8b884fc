"""The resend-link limits, one contract for the Redis limiter and its in-memory twin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from merchant_api.resend_limit import PER_ORDER, PER_STORE, MemoryResendLimiter, RedisResendLimiter, ResendLimiter
from tests.builders import T0
from tests.support import unique_id


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def test_the_limits_are_three_an_hour_per_order_and_a_hundred_per_store():
    assert (PER_ORDER, PER_STORE) == (3, 100)


class LimiterContract:
    """Small limits (2 per order, 5 per store) so each case stays short; the same code counts either way.
    Each subclass gives the `limiter` fixture."""

    async def test_a_fourth_resend_within_the_hour_is_refused_and_other_orders_are_not(self, limiter: ResendLimiter):
        store = f"woocommerce:{unique_id()}"
        assert [await limiter.take(store, f"{store}:1") for _ in range(2)] == [None, None]
        wait_s = await limiter.take(store, f"{store}:1")
        assert wait_s is not None and 3500 < wait_s <= 3600
        assert await limiter.take(store, f"{store}:2") is None

    async def test_a_store_is_refused_past_its_limit_on_any_order(self, limiter: ResendLimiter):
        store = f"woocommerce:{unique_id()}"
        assert [await limiter.take(store, f"{store}:{n}") for n in range(5)] == [None] * 5
        assert await limiter.take(store, f"{store}:new") is not None
        assert await limiter.take(f"{store}-other", f"{store}-other:1") is None  # another store is unaffected

    async def test_a_refused_resend_is_not_counted(self, limiter: ResendLimiter):
        store = f"woocommerce:{unique_id()}"
        for _ in range(2):
            await limiter.take(store, f"{store}:1")
        for _ in range(10):
            assert await limiter.take(store, f"{store}:1") is not None
        assert [await limiter.take(store, f"{store}:{n}") for n in (2, 3, 4)] == [None] * 3  # the store's 5th


class TestMemoryLimiter(LimiterContract):
    @pytest.fixture
    def limiter(self) -> ResendLimiter:
        return MemoryResendLimiter(per_order=2, per_store=5, clock=Clock())

    async def test_the_window_ends_after_an_hour(self):
        clock = Clock()
        limiter = MemoryResendLimiter(per_order=1, per_store=5, clock=clock)
        assert await limiter.take("s", "s:1") is None
        assert await limiter.take("s", "s:1") == 3600
        clock.now += timedelta(minutes=59)
        assert await limiter.take("s", "s:1") == 60
        clock.now += timedelta(minutes=1)
        assert await limiter.take("s", "s:1") is None


class TestRedisLimiter(LimiterContract):
    @pytest.fixture
    def limiter(self, redis: Redis) -> ResendLimiter:
        return RedisResendLimiter(redis, per_order=2, per_store=5)

    async def test_the_counters_expire_with_their_hour(self, redis):
        store = f"woocommerce:{unique_id()}"
        await RedisResendLimiter(redis).take(store, f"{store}:1")
        ttls = [await redis.ttl(f"merchant_api:resends:{kind}") for kind in (f"order:{store}:1", f"store:{store}")]
        assert all(3500 < ttl <= 3600 for ttl in ttls)
