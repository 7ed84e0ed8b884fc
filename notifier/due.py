"""A durable timer wheel: members due at a time, claimed by one copy with a lease and a fence. Redis or a dict.

- A claim moves each due member a lease ahead (so it is not due again while
  held) and records who holds it: a fence `<epoch>/<owner>`, the epoch one
  more than any claim before it (`<key>:epoch`), the owner the claiming copy.
  The fence is what every step of the work checks (`notifier/leases.py`): a
  copy whose member was claimed again by another holds an old fence, and its
  checks and fenced writes fail.
- A member held under a live lease is never claimed by another copy, even
  when a writer moves its time to now (a resend asked for while its email is
  out): the wanted time is kept (`<key>:leases`, `<lease end>,<wanted>`) and
  applied when the holder lets go. A lease that ran out unrenewed is the
  holder presumed dead: the member is claimed again, under a higher epoch.
- The holder renews its leases while it works and lets go with the next time
  (or none: the member then keeps its lease end, or the time a writer wanted).

Times are the callers' (an injected clock), stored as epoch seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from redis.asyncio import Redis

from notifier.due_lua import CLAIM, RELEASE, RENEW, TAKE


@dataclass(frozen=True)
class Claim:
    member: str
    fence: str  # `<epoch>/<owner>`: this claim and no other


class Timers(Protocol):
    async def claim(self, now: datetime, lease_s: float, owner: str, limit: int = 100) -> list[Claim]:
        """The members due at `now` and not held by another copy, earliest first, each moved `lease_s` ahead."""
        ...

    async def take(self, member: str, now: datetime, lease_s: float, owner: str) -> Claim | None:
        """Hold `member` whatever its time, as a claim would (acting on it at once: tests, an operator's retry);
        None if another copy holds it under a live lease."""
        ...

    async def renew(self, claims: Sequence[Claim], now: datetime, lease_s: float) -> set[str]:
        """Extend each lease still held under its fence to `now + lease_s`; the members still held."""
        ...

    async def release(self, claim: Claim, when: datetime | None = None) -> bool:
        """Let go: due at `when` (or sooner, if a writer wanted it sooner meanwhile); without `when` it keeps its
        time. False, changing nothing, if the claim is no longer held under this fence."""
        ...

    async def schedule(self, member: str, when: datetime) -> None:
        """Due at `when`, whatever time it had (a writer: a held member keeps its lease and gets `when` after)."""
        ...

    async def remove(self, member: str) -> None:
        """Off the timers, and any claim on it with it."""
        ...

    async def due_at(self, member: str) -> datetime | None: ...

    async def holder(self, member: str) -> str | None:
        """The fence of the claim on `member`, if any."""
        ...


def _at(score: float) -> datetime:
    return datetime.fromtimestamp(score, UTC)


class RedisTimers:
    """The Redis timers: a sorted set scored by epoch seconds, beside it the claims, the leases and the epoch."""

    def __init__(self, redis: Redis, key: str) -> None:
        self._redis = redis
        self.key, self.claims_key, self.leases_key = key, f"{key}:claims", f"{key}:leases"
        self._keys = [key, self.claims_key, self.leases_key, f"{key}:epoch"]
        self._claim, self._take = redis.register_script(CLAIM), redis.register_script(TAKE)
        self._renew, self._release = redis.register_script(RENEW), redis.register_script(RELEASE)

    async def claim(self, now: datetime, lease_s: float, owner: str, limit: int = 100) -> list[Claim]:
        fence, members = await self._claim(
            keys=self._keys, args=[now.timestamp(), now.timestamp() + lease_s, limit, owner]
        )
        return [Claim(m.decode(), fence.decode()) for m in members]

    async def take(self, member: str, now: datetime, lease_s: float, owner: str) -> Claim | None:
        fence = await self._take(keys=self._keys, args=[member, now.timestamp(), now.timestamp() + lease_s, owner])
        return Claim(member, fence.decode()) if fence else None

    async def renew(self, claims: Sequence[Claim], now: datetime, lease_s: float) -> set[str]:
        if not claims:
            return set()
        pairs = [part for claim in claims for part in (claim.member, claim.fence)]
        held = await self._renew(keys=self._keys, args=[now.timestamp() + lease_s, *pairs])
        return {m.decode() for m in held}

    async def release(self, claim: Claim, when: datetime | None = None) -> bool:
        at = "" if when is None else when.timestamp()
        return bool(await self._release(keys=self._keys, args=[claim.member, claim.fence, at]))

    async def schedule(self, member: str, when: datetime) -> None:
        await self._redis.zadd(self.key, {member: when.timestamp()})

    async def remove(self, member: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.key, member)
            pipe.hdel(self._keys[1], member)
            pipe.hdel(self._keys[2], member)
            await pipe.execute()

    async def due_at(self, member: str) -> datetime | None:
        score = await self._redis.zscore(self.key, member)
        return None if score is None else _at(score)

    async def holder(self, member: str) -> str | None:
        fence = await self._redis.hget(self.claims_key, member)
        return None if fence is None else fence.decode() if isinstance(fence, bytes) else fence


@dataclass
class MemoryTimers:
    """The twin: the same claims, fences and leases on dicts; its writes are synchronous, so a store can make them
    part of one atomic change (nothing else runs between two statements without an `await`)."""

    scores: dict[str, float] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)  # member -> fence
    leases: dict[str, tuple[float, float | None]] = field(default_factory=dict)  # member -> (lease end, wanted)
    epoch: int = 0

    def _live(self, member: str, now: float) -> bool:
        return member in self.claims and member in self.leases and self.leases[member][0] > now

    def _wanted(self, member: str) -> float | None:
        until, wanted = self.leases.get(member, (0.0, None))
        score = self.scores.get(member)
        if score is not None and score != until and (wanted is None or score < wanted):
            return score
        return wanted

    def _fence(self, owner: str) -> str:
        self.epoch += 1
        return f"{self.epoch}/{owner}"

    async def claim(self, now: datetime, lease_s: float, owner: str, limit: int = 100) -> list[Claim]:
        t, until, fence, got = now.timestamp(), now.timestamp() + lease_s, None, list[Claim]()
        for _, member in sorted((score, member) for member, score in self.scores.items() if score <= t):
            if len(got) == limit:
                break
            if self._live(member, t):
                self.leases[member] = (self.leases[member][0], self._wanted(member))
                self.scores[member] = self.leases[member][0]
                continue
            fence = fence or self._fence(owner)
            self.scores[member], self.claims[member], self.leases[member] = until, fence, (until, None)
            got.append(Claim(member, fence))
        return got

    async def take(self, member: str, now: datetime, lease_s: float, owner: str) -> Claim | None:
        if self._live(member, now.timestamp()):
            return None
        fence, until = self._fence(owner), now.timestamp() + lease_s
        self.claims[member], self.leases[member] = fence, (until, None)
        if member in self.scores:
            self.scores[member] = until
        return Claim(member, fence)

    async def renew(self, claims: Sequence[Claim], now: datetime, lease_s: float) -> set[str]:
        held = set()
        for claim in claims:
            if self.claims.get(claim.member) == claim.fence:
                wanted, until = self._wanted(claim.member), now.timestamp() + lease_s
                if claim.member in self.scores:
                    self.scores[claim.member] = until
                self.leases[claim.member] = (until, wanted)
                held.add(claim.member)
        return held

    async def release(self, claim: Claim, when: datetime | None = None) -> bool:
        if self.claims.get(claim.member) != claim.fence:
            return False
        wanted, present = self._wanted(claim.member), claim.member in self.scores
        self.drop_claim(claim.member)
        if when is None:
            if wanted is not None and present:
                self.scores[claim.member] = wanted
            return True
        at = when.timestamp()
        self.scores[claim.member] = at if wanted is None else min(at, wanted)
        return True

    async def schedule(self, member: str, when: datetime) -> None:
        self.set(member, when)

    async def remove(self, member: str) -> None:
        self.scores.pop(member, None)
        self.drop_claim(member)

    async def due_at(self, member: str) -> datetime | None:
        score = self.scores.get(member)
        return None if score is None else _at(score)

    async def holder(self, member: str) -> str | None:
        return self.claims.get(member)

    def set(self, member: str, when: datetime, *, unless_set: bool = False) -> None:
        if not (unless_set and member in self.scores):
            self.scores[member] = when.timestamp()

    def drop_claim(self, member: str) -> None:
        self.claims.pop(member, None)
        self.leases.pop(member, None)
