"""Where core keeps orders: Redis in production, a dict in fast tests; one contract for both.

Writes are compare-and-set on a per-order version (one Lua call each,
pipelined per batch), because two core copies may hold partitions of
different topics that carry events of the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from core.order import Order

PREFIX = "core:order:"

_CAS = """
local current = redis.call('HGET', KEYS[1], 'v') or '0'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[1]) + 1), 'doc', ARGV[2])
return 1
"""


@dataclass(frozen=True)
class Versioned:
    order: Order | None
    version: int  # 0: never written


@dataclass(frozen=True)
class Write:
    order: Order
    expected_version: int


class OrderStore(Protocol):
    async def load_many(self, keys: list[str]) -> dict[str, Versioned]: ...

    async def save_many(self, writes: list[Write]) -> set[str]:
        """Write each order unless someone else wrote it since it was read; return the keys that lost."""
        ...


class RedisOrderStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._cas = redis.register_script(_CAS)

    async def load_many(self, keys: list[str]) -> dict[str, Versioned]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(PREFIX + key, "v", "doc")
            rows = await pipe.execute()
        return {
            key: Versioned(Order.model_validate_json(doc) if doc else None, int(version or 0))
            for key, (version, doc) in zip(keys, rows)
        }

    async def save_many(self, writes: list[Write]) -> set[str]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for write in writes:
                await self._cas(
                    keys=[PREFIX + write.order.order_key],
                    args=[str(write.expected_version), write.order.model_dump_json()],
                    client=pipe,
                )
            results = await pipe.execute()
        return {w.order.order_key for w, ok in zip(writes, results) if not ok}


class MemoryOrderStore:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, str]] = {}

    async def load_many(self, keys: list[str]) -> dict[str, Versioned]:
        found = {}
        for key in keys:
            version, doc = self.rows.get(key, (0, None))
            found[key] = Versioned(Order.model_validate_json(doc) if doc else None, version)
        return found

    async def save_many(self, writes: list[Write]) -> set[str]:
        lost = set()
        for write in writes:
            key = write.order.order_key
            if self.rows.get(key, (0, None))[0] != write.expected_version:
                lost.add(key)
                continue
            self.rows[key] = (write.expected_version + 1, write.order.model_dump_json())
        return lost
