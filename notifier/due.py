"""A durable timer wheel: members due at a time, claimed with a lease. Redis in production, a dict in fast tests.

Claiming moves a member a lease ahead in one atomic step, so among many
notifier copies one acts on it; if that copy dies, the member comes due again
when the lease runs out. Whoever acts reschedules or removes it. Times are
the callers' (an injected clock), stored as epoch seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from redis.asyncio import Redis

_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due
"""


class Timers(Protocol):
    async def claim(self, now: datetime, lease_s: float, limit: int = 100) -> list[str]:
        """The members due at `now`, earliest first, each moved `lease_s` ahead."""
        ...

    async def schedule(self, member: str, when: datetime) -> None:
        """Due at `when`, whatever time it had."""
        ...

    async def remove(self, member: str) -> None: ...

    async def due_at(self, member: str) -> datetime | None: ...


class RedisTimers:
    """The Redis timers: a sorted set scored by epoch seconds."""

    def __init__(self, redis: Redis, key: str) -> None:
        self._redis = redis
        self.key = key
        self._claim = redis.register_script(_CLAIM)

    async def claim(self, now: datetime, lease_s: float, limit: int = 100) -> list[str]:
        members = await self._claim(keys=[self.key], args=[now.timestamp(), now.timestamp() + lease_s, limit])
        return [m.decode() for m in members]

    async def schedule(self, member: str, when: datetime) -> None:
        await self._redis.zadd(self.key, {member: when.timestamp()})

    async def remove(self, member: str) -> None:
        await self._redis.zrem(self.key, member)

    async def due_at(self, member: str) -> datetime | None:
        score = await self._redis.zscore(self.key, member)
        return None if score is None else datetime.fromtimestamp(score, UTC)


class MemoryTimers:
    """The twin: the same claims and leases on a dict; its writes are synchronous, so a store can make them
    part of one atomic change (nothing else runs between two statements without an `await`)."""

    def __init__(self) -> None:
        self.scores: dict[str, float] = {}

    async def claim(self, now: datetime, lease_s: float, limit: int = 100) -> list[str]:
        due = sorted((score, member) for member, score in self.scores.items() if score <= now.timestamp())
        members = [member for _, member in due[:limit]]
        for member in members:
            self.scores[member] = now.timestamp() + lease_s
        return members

    async def schedule(self, member: str, when: datetime) -> None:
        self.set(member, when)

    async def remove(self, member: str) -> None:
        self.scores.pop(member, None)

    async def due_at(self, member: str) -> datetime | None:
        score = self.scores.get(member)
        return None if score is None else datetime.fromtimestamp(score, UTC)

    def set(self, member: str, when: datetime, *, unless_set: bool = False) -> None:
        if not (unless_set and member in self.scores):
            self.scores[member] = when.timestamp()
