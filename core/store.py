"""Where core keeps orders: Redis in production, a dict in fast tests; one contract for both.

Writes are compare-and-set on a per-order version (one Lua call for the
whole batch), because two core copies may hold partitions of
different topics that carry events of the same order.

Each write also keeps the listing index the merchant API pages through, in
the same atomic call: per store, and per store and status, a sorted set of
order keys scored by the order's receipt time in microseconds. The caller
says which status the order had when it was read (`Write.was`); the
compare-and-set guarantees that is still what Redis holds when the write wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from redis.asyncio import Connection, Redis
from redis.connection import HiredisRespSerializer

from core.codec import order_document, read_order
from core.order import Order
from schemas import OrderStatus

PREFIX = "core:order:"
BY_STORE = "core:orders-by-store:"
BY_STATUS = "core:orders-by-status:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# One call per batch, not per order: redis-py spends more time packing
# commands than Redis spends running them (profiled: two thirds of core's
# time went to per-order pipeline commands). Multi-key scripts need every key
# in one slot on Redis Cluster; core targets a single primary (docs/deploy).
_LOAD = """
local rows = {}
for i, key in ipairs(KEYS) do rows[i] = redis.call('HMGET', key, 'v', 'doc') end
return rows
"""

# KEYS per order: the order, its store's index, the index of the status it had, of the one it has now (an
# order without a status is indexed by store only: both status keys are then the store's index).
_SAVE = """
local lost = {}
for i = 1, #KEYS / 4 do
  local key, all, was, now = KEYS[4 * i - 3], KEYS[4 * i - 2], KEYS[4 * i - 1], KEYS[4 * i]
  local expected, doc, score, member = ARGV[4 * i - 3], ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i]
  if (redis.call('HGET', key, 'v') or '0') == expected then
    redis.call('HSET', key, 'v', tostring(tonumber(expected) + 1), 'doc', doc)
    redis.call('ZADD', all, score, member)
    if was ~= now and was ~= all then redis.call('ZREM', was, member) end
    redis.call('ZADD', now, score, member)
  else
    table.insert(lost, i)
  end
end
return lost
"""


class HiredisPacking(Connection):
    """redis-py's asyncio connection packs commands in Python, argument by argument (its blocking one uses
    hiredis, in C, which this borrows). A batch's save sends eight arguments per order: packing them was
    7 % of core's CPU (profiled)."""

    _packer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        return self._packer.pack(*args)


def store_of(order: Order) -> str:
    """`<platform>:<store_id>`, the form the merchant API names stores by."""
    return f"{order.snapshot.platform}:{order.snapshot.store_id}"


def index_key(store: str, status: OrderStatus | None = None) -> str:
    return BY_STORE + store if status is None else f"{BY_STATUS}{status.value}:{store}"


def received_score(order: Order) -> int:
    return (order.received_at - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Versioned:
    order: Order | None
    version: int  # 0: never written


@dataclass(frozen=True)
class Write:
    order: Order
    expected_version: int
    was: OrderStatus | None = None  # the status it had when read, to move it between the status indexes
    document: bytes | None = None  # the order's document, made by the batch's `core.codec`; None: made here

    def stored(self) -> bytes:
        return self.document if self.document is not None else order_document(self.order)


@dataclass(frozen=True)
class Position:
    """Where a listing page ended: the last order's score and key (ties on a score are ordered by key)."""

    score: int
    order_key: str


@dataclass(frozen=True)
class Page:
    order_keys: list[str]
    next: Position | None  # None: this was the last page


class OrderStore(Protocol):
    async def load_many(self, keys: list[str]) -> dict[str, Versioned]: ...

    async def save_many(self, writes: list[Write]) -> set[str]:
        """Write each order unless someone else wrote it since it was read; return the keys that lost."""
        ...

    async def page(self, store: str, status: OrderStatus | None, after: Position | None, limit: int) -> Page:
        """A store's order keys, newest received first, from just after `after`."""
        ...


class RedisOrderStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._load = redis.register_script(_LOAD)
        self._save = redis.register_script(_SAVE)

    async def load_many(self, keys: list[str]) -> dict[str, Versioned]:
        rows = await self._load(keys=[PREFIX + key for key in keys])
        return {
            key: Versioned(read_order(doc) if doc else None, int(version or 0))
            for key, (version, doc) in zip(keys, rows, strict=True)
        }

    async def save_many(self, writes: list[Write]) -> set[str]:
        keys: list[str] = []
        args: list[bytes | str | int] = []
        for write in writes:
            order = write.order
            store = store_of(order)
            keys += [
                PREFIX + order.order_key,
                index_key(store),
                _status_index(store, write.was),
                _status_index(store, order.status),
            ]
            args += [str(write.expected_version), write.stored(), received_score(order), order.order_key]
        lost = await self._save(keys=keys, args=args)
        return {writes[i - 1].order.order_key for i in lost}

    async def page(self, store: str, status: OrderStatus | None, after: Position | None, limit: int) -> Page:
        key = index_key(store, status)
        found: list[tuple[str, int]] = []
        if after is not None:  # the rest of the orders that share the last one's score
            # Replies are bytes: our clients keep redis-py's default (its types say `bytes | str`).
            ties = cast(list[bytes], await self._redis.zrangebyscore(key, after.score, after.score))
            found = [(m.decode(), after.score) for m in reversed(ties) if m.decode() < after.order_key]
        if len(found) <= limit:
            top = f"({after.score}" if after is not None else "+inf"
            rows = cast(
                list[tuple[bytes, float]],
                await self._redis.zrevrangebyscore(
                    key, top, "-inf", start=0, num=limit + 1 - len(found), withscores=True
                ),
            )
            found += [(m.decode(), int(score)) for m, score in rows]
        return _page(found, limit)


class MemoryOrderStore:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, bytes]] = {}
        self.indexes: dict[str, dict[str, int]] = {}

    async def load_many(self, keys: list[str]) -> dict[str, Versioned]:
        found = {}
        for key in keys:
            version, doc = self.rows.get(key, (0, None))
            found[key] = Versioned(read_order(doc) if doc else None, version)
        return found

    async def save_many(self, writes: list[Write]) -> set[str]:
        lost = set()
        for write in writes:
            key = write.order.order_key
            if self.rows.get(key, (0, None))[0] != write.expected_version:
                lost.add(key)
                continue
            self.rows[key] = (write.expected_version + 1, write.stored())
            self._index(write)
        return lost

    def _index(self, write: Write) -> None:
        order, store = write.order, store_of(write.order)
        score = received_score(order)
        self.indexes.setdefault(index_key(store), {})[order.order_key] = score
        if write.was is not None and write.was is not order.status:
            self.indexes.get(index_key(store, write.was), {}).pop(order.order_key, None)
        if order.status is not None:
            self.indexes.setdefault(index_key(store, order.status), {})[order.order_key] = score

    async def page(self, store: str, status: OrderStatus | None, after: Position | None, limit: int) -> Page:
        newest_first = sorted(
            self.indexes.get(index_key(store, status), {}).items(), key=lambda row: (row[1], row[0]), reverse=True
        )
        if after is not None:
            newest_first = [(k, s) for k, s in newest_first if (s, k) < (after.score, after.order_key)]
        return _page(newest_first[: limit + 1], limit)


def _status_index(store: str, status: OrderStatus | None) -> str:
    return index_key(store, status) if status is not None else index_key(store)


def _page(found: list[tuple[str, int]], limit: int) -> Page:
    """`found` holds up to limit + 1 rows: one more than the page tells whether another page follows."""
    rows = found[:limit]
    more = len(found) > limit and rows
    return Page([key for key, _ in rows], Position(rows[-1][1], rows[-1][0]) if more else None)
