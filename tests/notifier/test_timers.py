"""One contract for the timers: the in-memory twin (fast lane) and Redis (integration), on a clock the test sets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from notifier.due import MemoryTimers, RedisTimers, Timers
from tests.support import unique_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
LEASE_S = 60.0


class TimersContract:
    @pytest.fixture
    def timers(self) -> Timers:
        raise NotImplementedError

    async def test_a_member_is_claimed_once_it_is_due_and_not_before(self, timers: Timers) -> None:
        await timers.schedule("a", T0 + 10 * S)
        assert await timers.claim(T0 + 9 * S, LEASE_S) == []
        assert await timers.claim(T0 + 10 * S, LEASE_S) == ["a"]

    async def test_a_claim_holds_a_member_for_its_lease_then_it_comes_due_again(self, timers: Timers) -> None:
        await timers.schedule("a", T0)
        assert await timers.claim(T0, LEASE_S) == ["a"]
        assert await timers.due_at("a") == T0 + LEASE_S * S
        assert await timers.claim(T0 + 59 * S, LEASE_S) == []  # another copy finds it taken
        assert await timers.claim(T0 + 60 * S, LEASE_S) == ["a"]  # the first one died: it comes back

    async def test_claims_come_earliest_first_up_to_the_limit(self, timers: Timers) -> None:
        for member, at in (("late", T0 + 2 * S), ("early", T0), ("middle", T0 + S)):
            await timers.schedule(member, at)
        assert await timers.claim(T0 + 3 * S, LEASE_S, limit=2) == ["early", "middle"]
        assert await timers.claim(T0 + 3 * S, LEASE_S, limit=2) == ["late"]

    async def test_scheduling_again_moves_the_member_and_removing_it_ends_it(self, timers: Timers) -> None:
        await timers.schedule("a", T0)
        await timers.schedule("a", T0 + 30 * S)
        assert await timers.claim(T0 + 29 * S, LEASE_S) == []
        assert await timers.due_at("a") == T0 + 30 * S
        await timers.remove("a")
        assert await timers.due_at("a") is None and await timers.claim(T0 + 60 * S, LEASE_S) == []


class TestMemoryTimers(TimersContract):
    @pytest.fixture
    def timers(self) -> Timers:
        return MemoryTimers()


class TestRedisTimers(TimersContract):
    @pytest.fixture
    async def timers(self, redis: Redis) -> AsyncIterator[Timers]:
        key = f"test:timers:{unique_id()}"
        yield RedisTimers(redis, key)
        await redis.delete(key)
