"""Orders of a store core has not learned yet: kept, then decided once the store is.

A store connected a moment ago is announced on `stores` and its first orders arrive on `orders.received`: two
topics, read by two consumer groups, with no order between them (BigCommerce sends the first order's webhook
seconds after the install). Refused, such an order would be a dead letter, and the connector, which has
published it, would not publish it again. So an order whose store core does not know is **parked**: its
message as it came, under the store's key in Redis. When `stores` says the store is connected, the parked
messages are published again, unchanged, to the topic they came from, and decided as if they had just arrived
(the same event id: a message published twice is decided once).

Parking and learning race, each in its own consumer: the handler parks, then asks the directory again; the
learner records the store, then takes what is parked. Whichever comes second sees the other's write, so a
parked order is always published again, at worst twice (decided once).

Limits: `MAX_PER_STORE` messages per store (then dead-letters, as before: a connector running a store core
will never know is a misconfiguration to see), each store's park kept `KEPT` after its last order.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

log = logging.getLogger(__name__)

PREFIX = "core:parked:"  # + store key: a list of parked messages, oldest first
MAX_PER_STORE = 1000
KEPT = timedelta(days=7)

# KEYS: the store's list. ARGV: the message, the limit, ms to keep. 1: parked, 0: the park is full.
_PARK = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class Parked:
    """A message as it was read: where it goes again, and its bytes."""

    topic: str
    key: bytes | None
    value: bytes

    def dump(self) -> str:
        key = base64.b64encode(self.key).decode() if self.key is not None else None
        return json.dumps({"topic": self.topic, "key": key, "value": base64.b64encode(self.value).decode()})

    @classmethod
    def load(cls, raw: bytes | str) -> Parked:
        doc = json.loads(raw)
        key = base64.b64decode(doc["key"]) if doc["key"] is not None else None
        return cls(doc["topic"], key, base64.b64decode(doc["value"]))


class ParkedOrders(Protocol):
    async def park(self, store_key: str, message: Parked) -> bool:
        """Keep it; False when the store's park is full (nothing kept)."""
        ...

    async def parked(self, store_key: str) -> list[Parked]:
        """Oldest first; they stay until `release`."""
        ...

    async def release(self, store_key: str, count: int) -> None:
        """Drop the first `count`: published again."""
        ...


class RedisParkedOrders:
    def __init__(self, redis: Redis, max_per_store: int = MAX_PER_STORE, kept: timedelta = KEPT) -> None:
        self._redis, self._max, self._kept_ms = redis, max_per_store, int(kept.total_seconds() * 1000)
        self._park = redis.register_script(_PARK)

    async def park(self, store_key: str, message: Parked) -> bool:
        return bool(await self._park(keys=[PREFIX + store_key], args=[message.dump(), self._max, self._kept_ms]))

    async def parked(self, store_key: str) -> list[Parked]:
        return [Parked.load(raw) for raw in await self._redis.lrange(PREFIX + store_key, 0, -1)]

    async def release(self, store_key: str, count: int) -> None:
        await self._redis.ltrim(PREFIX + store_key, count, -1)


class MemoryParkedOrders:
    """The in-memory twin, for the tests of what parks and what publishes again."""

    def __init__(self, max_per_store: int = MAX_PER_STORE) -> None:
        self._max = max_per_store
        self.lists: dict[str, list[Parked]] = {}

    async def park(self, store_key: str, message: Parked) -> bool:
        kept = self.lists.setdefault(store_key, [])
        if len(kept) >= self._max:
            return False
        kept.append(message)
        return True

    async def parked(self, store_key: str) -> list[Parked]:
        return list(self.lists.get(store_key, []))

    async def release(self, store_key: str, count: int) -> None:
        self.lists[store_key] = self.lists.get(store_key, [])[count:]


class Republish(Protocol):
    async def __call__(self, message: Parked) -> None: ...


def producer_republish(producer: AIOKafkaProducer) -> Republish:
    async def republish(message: Parked) -> None:
        await producer.send_and_wait(message.topic, message.value, key=message.key)

    return republish


class Parking:
    """What the order handler and the store learner share: park an order, publish a store's parked again."""

    def __init__(self, orders: ParkedOrders, republish: Republish) -> None:
        self._orders, self._republish = orders, republish

    async def park(self, store_key: str, message: Parked) -> bool:
        return await self._orders.park(store_key, message)

    async def release(self, store_key: str) -> int:
        """Publish the store's parked messages again, then drop them (a crash between: published twice, decided
        once); how many."""
        messages = await self._orders.parked(store_key)
        for message in messages:
            await self._republish(message)
        if messages:
            await self._orders.release(store_key, len(messages))
            log.info("%d parked order message(s) of %s published again", len(messages), store_key)
        return len(messages)
