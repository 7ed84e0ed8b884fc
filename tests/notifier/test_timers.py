"""One contract for the timers: the in-memory twin (fast lane) and Redis (integration), on a clock the test sets.

Claims are fenced: each records its holder and a rising epoch, a member held
under a live lease is claimed by no other copy, and a copy whose lease ran
out and whose member was claimed again holds a fence that no longer counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from notifier.due import Claim, MemoryTimers, RedisTimers, Timers
from tests.support import unique_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
DAY_S = timedelta(days=1)
LEASE_S = 60.0
A, B = "copy-a", "copy-b"


def members(claims: list[Claim]) -> list[str]:
    return [claim.member for claim in claims]


class TimersContract:
    @pytest.fixture
    def timers(self) -> Timers:
        raise NotImplementedError

    async def test_a_member_is_claimed_once_it_is_due_and_not_before(self, timers: Timers) -> None:
        await timers.schedule("a", T0 + 10 * S)
        assert members(await timers.claim(T0 + 9 * S, LEASE_S, A)) == []
        assert members(await timers.claim(T0 + 10 * S, LEASE_S, A)) == ["a"]

    async def test_a_claim_holds_a_member_for_its_lease_then_it_comes_due_again(self, timers: Timers) -> None:
        await timers.schedule("a", T0)
        assert members(await timers.claim(T0, LEASE_S, A)) == ["a"]
        assert await timers.due_at("a") == T0 + LEASE_S * S
        assert members(await timers.claim(T0 + 59 * S, LEASE_S, A)) == []  # another copy finds it taken
        assert members(await timers.claim(T0 + 60 * S, LEASE_S, A)) == ["a"]  # the first one died: it comes back

    async def test_claims_come_earliest_first_up_to_the_limit(self, timers: Timers) -> None:
        for member, at in (("late", T0 + 2 * S), ("early", T0), ("middle", T0 + S)):
            await timers.schedule(member, at)
        assert members(await timers.claim(T0 + 3 * S, LEASE_S, A, limit=2)) == ["early", "middle"]
        assert members(await timers.claim(T0 + 3 * S, LEASE_S, A, limit=2)) == ["late"]

    async def test_scheduling_again_moves_the_member_and_removing_it_ends_it(self, timers: Timers) -> None:
        await timers.schedule("a", T0)
        await timers.schedule("a", T0 + 30 * S)
        assert members(await timers.claim(T0 + 29 * S, LEASE_S, A)) == []
        assert await timers.due_at("a") == T0 + 30 * S
        await timers.remove("a")
        assert await timers.due_at("a") is None and members(await timers.claim(T0 + 60 * S, LEASE_S, A)) == []

    async def test_a_claim_names_its_holder_and_a_later_claim_a_higher_epoch(self, timers: Timers) -> None:
        await timers.schedule("a", T0)
        (first,) = await timers.claim(T0, LEASE_S, A)
        assert await timers.holder("a") == first.fence and first.fence.endswith("/copy-a")
        (second,) = await timers.claim(T0 + 60 * S, LEASE_S, B)  # the first copy's lease ran out unrenewed
        assert second.fence.endswith("/copy-b") and int(second.fence.split("/")[0]) > int(first.fence.split("/")[0])
        assert await timers.holder("a") == second.fence

    async def test_a_copy_whose_member_was_claimed_again_can_neither_renew_nor_let_go(self, timers: Timers) -> None:
        await timers.schedule("a", T0)
        (stale,) = await timers.claim(T0, LEASE_S, A)
        (fresh,) = await timers.claim(T0 + 61 * S, LEASE_S, B)
        assert await timers.renew([stale, fresh], T0 + 62 * S, LEASE_S) == {"a"}  # only B's fence counts
        assert not await timers.release(stale, T0 + DAY_S)
        assert await timers.due_at("a") == T0 + 122 * S and await timers.holder("a") == fresh.fence

    async def test_a_renewed_lease_keeps_the_member_from_every_other_copy(self, timers: Timers) -> None:
        await timers.schedule("a", T0)
        (claim,) = await timers.claim(T0, LEASE_S, A)
        assert await timers.renew([claim], T0 + 50 * S, LEASE_S) == {"a"}
        assert await timers.claim(T0 + 100 * S, LEASE_S, B) == []  # past the first lease, not the renewed one
        assert await timers.take("a", T0 + 100 * S, LEASE_S, B) is None

    async def test_a_held_member_moved_to_now_by_a_writer_is_not_claimed_but_comes_due_when_let_go(
        self, timers: Timers
    ) -> None:
        await timers.schedule("a", T0)
        (claim,) = await timers.claim(T0, LEASE_S, A)
        await timers.schedule("a", T0 + S)  # a resend asked for while the copy is still at work on the order
        assert await timers.claim(T0 + 2 * S, LEASE_S, B) == []
        assert await timers.renew([claim], T0 + 3 * S, LEASE_S) == {"a"}
        assert await timers.release(claim, T0 + DAY_S)  # the holder would come back tomorrow; the writer said now
        assert await timers.due_at("a") == T0 + S and await timers.holder("a") is None
        assert members(await timers.claim(T0 + 4 * S, LEASE_S, B)) == ["a"]

    async def test_letting_go_without_a_time_keeps_the_lease_end(self, timers: Timers) -> None:
        await timers.schedule("a", T0)
        (claim,) = await timers.claim(T0, LEASE_S, A)
        assert await timers.release(claim)
        assert await timers.due_at("a") == T0 + 60 * S and await timers.holder("a") is None

    async def test_removing_a_held_member_ends_its_claim(self, timers: Timers) -> None:
        await timers.schedule("a", T0)
        (claim,) = await timers.claim(T0, LEASE_S, A)
        await timers.remove("a")
        assert await timers.renew([claim], T0 + S, LEASE_S) == set() and await timers.due_at("a") is None

    async def test_taking_a_member_off_the_timer_holds_it_without_putting_it_on(self, timers: Timers) -> None:
        claim = await timers.take("off", T0, LEASE_S, A)
        assert claim is not None and await timers.due_at("off") is None
        assert await timers.renew([claim], T0 + S, LEASE_S) == {"off"} and await timers.due_at("off") is None


class TestMemoryTimers(TimersContract):
    @pytest.fixture
    def timers(self) -> Timers:
        return MemoryTimers()


class TestRedisTimers(TimersContract):
    @pytest.fixture
    async def timers(self, redis: Redis) -> AsyncIterator[Timers]:
        key = f"test:timers:{unique_id()}"
        yield RedisTimers(redis, key)
        await redis.delete(key, f"{key}:claims", f"{key}:leases", f"{key}:epoch")
