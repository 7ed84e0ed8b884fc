"""The claim store's contract (`editor_service/claims.py`), run against the in-memory twin and against Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from editor_service.claims import Claim, ClaimKeys, ClaimStore, RedisClaims
from editor_service.memory import MemoryClaims
from tests.editor_service.fakes import ManualClock
from tests.support import unique_id

DAY = 86400


@dataclass
class Subject:
    make: Callable[[int], ClaimStore]  # a store that keeps its claims `retention_s`
    clock: ManualClock
    ttl_passes: Callable[[float], Awaitable[None]]  # lets that many seconds of TTL go by


def claim(key: str = "shop:1", generation: int | None = None) -> Claim:
    event_id = unique_id()
    return Claim(key, event_id, f'{{"event_id": "{event_id}"}}', generation)


class ClaimStoreContract:
    @pytest.fixture
    def subject(self) -> Subject:
        raise NotImplementedError

    @pytest.fixture
    def claims(self, subject: Subject) -> ClaimStore:
        return subject.make(180 * DAY)

    async def test_a_claim_is_held_with_its_event_and_listed_until_published(self, claims, subject):
        first = claim()
        assert await claims.claim(first)
        assert await claims.held(first.key) == first
        assert await claims.due(0) == [first]
        assert await claims.mark_published(first.key, first.event_id)
        assert await claims.held(first.key) == Claim(first.key, first.event_id, first.event, None, published=True)
        subject.clock.advance(DAY)
        assert await claims.due(0) == []

    async def test_a_claim_without_a_generation_stands_against_every_later_claim(self, claims):
        first = claim()
        assert await claims.claim(first)
        assert not await claims.claim(claim())
        assert not await claims.claim(claim(generation=9))
        await claims.mark_published(first.key, first.event_id)
        assert not await claims.claim(claim())
        assert (await claims.held(first.key)).event_id == first.event_id

    async def test_a_claim_of_generation_n_stands_against_claims_up_to_n_and_a_newer_one_replaces_it(self, claims):
        first, second, newer = claim(generation=1), claim(generation=1), claim(generation=2)
        assert await claims.claim(first) and not await claims.claim(second)
        assert await claims.claim(newer)
        assert await claims.held(newer.key) == newer
        assert not await claims.claim(claim(generation=2)) and not await claims.claim(claim(generation=1))
        assert not await claims.claim(claim(generation=None))

    async def test_of_concurrent_claims_exactly_one_wins(self, claims):
        contenders = [claim() for _ in range(20)]
        won = await asyncio.gather(*(claims.claim(c) for c in contenders))
        assert sorted(won) == [False] * 19 + [True]
        (winner,) = [c for c, w in zip(contenders, won, strict=True) if w]
        assert await claims.held(winner.key) == winner and await claims.due(0) == [winner]

    async def test_only_the_held_claims_event_marks_it_published(self, claims):
        old, new = claim(generation=1), claim(generation=2)
        await claims.claim(old)
        await claims.claim(new)
        assert not await claims.mark_published(old.key, old.event_id)  # its republish came late
        assert await claims.due(0) == [new]
        assert not (await claims.held(new.key)).published

    async def test_claims_are_due_once_unacknowledged_for_the_grace_oldest_first_up_to_the_limit(self, claims, subject):
        first = claim("a:1")
        await claims.claim(first)
        subject.clock.advance(5)
        second = claim("a:2")
        await claims.claim(second)
        assert await claims.due(15) == []
        subject.clock.advance(10)
        assert await claims.due(15) == [first]
        subject.clock.advance(5)
        assert await claims.due(15) == [first, second]
        assert await claims.due(15, limit=1) == [first]

    async def test_due_claims_are_read_from_an_offset_so_a_pass_can_read_on_past_the_oldest(self, claims, subject):
        listed = []
        for i in range(5):
            listed.append(claim(f"o:{i}"))
            await claims.claim(listed[-1])
            subject.clock.advance(1)
        assert await claims.due(0, limit=2, offset=2) == listed[2:4]
        assert await claims.due(0, limit=2, offset=4) == listed[4:]
        assert await claims.due(0, limit=2, offset=5) == []

    async def test_a_claim_set_aside_leaves_the_list_and_keeps_its_event_and_reason(self, claims):
        kept, other = claim("s:1", generation=1), claim("s:2")
        await claims.claim(kept)
        await claims.claim(other)
        assert not await claims.set_aside(kept.key, other.event_id, "not its event")
        assert await claims.set_aside(kept.key, kept.event_id, "never publishable: too large")
        assert await claims.due(0) == [other]
        held = await claims.held(kept.key)
        assert held.failed == "never publishable: too large" and held.event == kept.event and not held.published
        assert not await claims.claim(claim("s:1", generation=1))  # it still stands against its generation
        newer = claim("s:1", generation=2)
        assert await claims.claim(newer) and await claims.held(newer.key) == newer and newer.failed is None

    async def test_a_new_generation_is_due_from_its_own_claim(self, claims, subject):
        old = claim(generation=1)
        await claims.claim(old)
        subject.clock.advance(60)
        new = claim(generation=2)
        await claims.claim(new)
        assert await claims.due(15) == []
        subject.clock.advance(15)
        assert await claims.due(15) == [new]

    async def test_claims_of_other_keys_stand_apart(self, claims):
        one, other = claim("k:1"), claim("k:2")
        assert await claims.claim(one) and await claims.claim(other)
        assert await claims.mark_published(other.key, other.event_id)
        assert await claims.due(0) == [one]
        assert await claims.held("k:3") is None

    async def test_a_lease_is_one_callers_until_it_runs_out(self, claims, subject):
        assert await claims.lease("k", 1)
        assert not await claims.lease("k", 1)
        assert await claims.lease("other", 1)
        await subject.ttl_passes(1)
        assert await claims.lease("k", 1)

    async def test_a_claim_is_forgotten_after_its_retention_and_leaves_the_list(self, subject):
        claims = subject.make(1)
        first = claim(generation=3)
        await claims.claim(first)
        await subject.ttl_passes(1)
        assert await claims.held(first.key) is None
        assert await claims.due(0) == []
        assert not await claims.mark_published(first.key, first.event_id)
        again = claim(generation=1)
        assert await claims.claim(again) and await claims.held(again.key) == again


class TestMemoryClaims(ClaimStoreContract):
    @pytest.fixture
    def subject(self) -> Subject:
        clock = ManualClock()

        async def ttl_passes(seconds: float) -> None:
            clock.advance(seconds)

        return Subject(lambda retention_s: MemoryClaims(clock, retention_s), clock, ttl_passes)


class TestRedisClaims(ClaimStoreContract):
    @pytest.fixture
    def subject(self, redis: Redis) -> Subject:
        clock, prefix = ManualClock(), f"test:claims:{unique_id()}:"
        layout = ClaimKeys(claims=prefix + "claim:", pending=prefix + "pending", leases=prefix + "lease:")

        async def ttl_passes(seconds: float) -> None:
            clock.advance(seconds)
            await asyncio.sleep(seconds + 0.1)  # Redis expires keys by its own clock

        return Subject(lambda retention_s: RedisClaims(redis, layout, retention_s, clock), clock, ttl_passes)
