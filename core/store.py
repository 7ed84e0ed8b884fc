"""Where core keeps orders: Redis in production, a dict in fast tests; one contract for both.

Writes are compare-and-set on a per-order version (one Lua call for the
whole batch), because two core copies may hold partitions of
different topics that carry events of the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from core.order import Order

PREFIX = "core:order:"

# One call per batch, not per order: redis-py spends more time packing
# commands than Redis spends running them (profiled: two thirds of core's
# time went to per-order pipeline commands). Multi-key scripts need every key
# in one slot on Redis Cluster; core targets a single primary (docs/deploy).
_LOAD = """
local rows = {}
for i, key in ipairs(KEYS) do rows[i] = redis.call('HMGET', key, 'v', 'doc') end
return rows
"""

_SAVE = """
local lost = {}
for i, key in ipairs(KEYS) do
  local expected = ARGV[2 * i - 1]
  if (redis.call('HGET', key, 'v') or '0') == expected then
    redis.call('HSET', key, 'v', tostring(tonumber(expected) + 1), 'doc', ARGV[2 * i])
  else
    table.insert(lost, i)
  end
end
return lost
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
        self._load = redis.register_script(_LOAD)
        self._save = redis.register_script(_SAVE)

    async def load_many(self, keys: list[str]) -> dict[str, Versioned]:
        rows = await self._load(keys=[PREFIX + key for key in keys])
        return {
            key: Versioned(Order.model_validate_json(doc) if doc else None, int(version or 0))
            for key, (version, doc) in zip(keys, rows)
        }

    async def save_many(self, writes: list[Write]) -> set[str]:
        args: list[str] = []
        for write in writes:
            args += [str(write.expected_version), write.order.model_dump_json()]
        lost = await self._save(keys=[PREFIX + w.order.order_key for w in writes], args=args)
        return {writes[i - 1].order.order_key for i in lost}


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
