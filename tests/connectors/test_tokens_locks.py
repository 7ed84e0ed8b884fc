"""The per-store refresh lock: the same promises from Redis and from its twin in memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from connectors.tokens_locks import MemoryRefreshLocks, RedisRefreshLocks, RefreshLocks, RefreshLockTimeout, held
from tests.support import unique_id


@pytest.fixture(params=["memory", "redis"])
async def locks(request, redis_url: str) -> AsyncIterator[RefreshLocks]:
    if request.param == "memory":
        yield MemoryRefreshLocks()
        return
    redis = Redis.from_url(redis_url)
    yield RedisRefreshLocks(redis)
    await redis.aclose()


async def test_one_holder_at_a_time_and_only_the_holder_releases(locks: RefreshLocks) -> None:
    key = unique_id()
    token = await locks.try_acquire(key, 5)
    assert token is not None and await locks.try_acquire(key, 5) is None
    await locks.release(key, "not-the-holders")
    assert await locks.try_acquire(key, 5) is None
    await locks.release(key, token)
    assert await locks.try_acquire(key, 5) is not None


async def test_a_lease_runs_out_so_a_stuck_holder_does_not_block_the_store_for_good(locks: RefreshLocks) -> None:
    key = unique_id()
    stale = await locks.try_acquire(key, 0.05)
    assert stale is not None
    await asyncio.sleep(0.15)
    fresh = await locks.try_acquire(key, 5)
    assert fresh is not None
    await locks.release(key, stale)  # the late holder's release leaves the new holder's lock alone
    assert await locks.try_acquire(key, 5) is None


async def test_held_waits_for_the_holder_then_gives_up_after_twice_the_lease(locks: RefreshLocks) -> None:
    key, order = unique_id(), []

    async def hold(name: str) -> None:
        async with held(locks, key, 5):
            order.append(f"{name} in")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    await asyncio.gather(hold("a"), hold("b"))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    assert await locks.try_acquire(key, 0.2) is not None  # held for 0.2 s by a holder that never releases

    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    with pytest.raises(RefreshLockTimeout):
        async with held(locks, key, 0.01, sleep=no_sleep):
            pass
