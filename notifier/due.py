"""A durable timer wheel in Redis: members due at a time, claimed with a lease.

Claiming moves a member a lease ahead in one atomic step, so among many
notifier copies one acts on it; if that copy dies, the member comes due again
when the lease runs out. Whoever acts reschedules or removes it.
"""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis

_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due
"""


class DueQueue:
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
