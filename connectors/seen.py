"""What a connector has already published per order, so webhook + poll + replays publish once.

Per order we keep `<platform modified time>|<hash of the fields we map>`.
`classify` says NEW (never published), CHANGED (a change that matters), SAME
(nothing we map changed) or STALE (an older version than we published: a
reordered retry). NEW and CHANGED also take a short claim, so a webhook and a
poll racing on one order publish it once; the claim is released on failure
and expires after a crash, and the next poll publishes it then. The digest is
recorded only after the event is acknowledged by the broker.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from plumbing.replies import text
from plumbing.scripts import ScriptBatch

CLAIM_MS = 30_000

_CLASSIFY = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
local verdict = 'NEW'
if stored then
  local sep = string.find(stored, '|', 1, true)
  local modified, digest = tonumber(string.sub(stored, 1, sep - 1)), string.sub(stored, sep + 1)
  if tonumber(ARGV[2]) < modified then return 'STALE' end
  if digest == ARGV[3] then return 'SAME' end
  verdict = 'CHANGED'
end
if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4]) then return 'CLAIMED' end
return verdict
"""

_RECORD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
redis.call('DEL', KEYS[2])
return 1
"""


_ADVANCE = """
local current = redis.call('GET', KEYS[1])
if (not current) or tonumber(current) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


class Verdict(enum.StrEnum):
    NEW = "NEW"
    CHANGED = "CHANGED"
    SAME = "SAME"
    STALE = "STALE"
    CLAIMED = "CLAIMED"  # another path (webhook or poll) is publishing this very version now

    @property
    def publish(self) -> bool:
        return self in (Verdict.NEW, Verdict.CHANGED)


class SeenOrders:
    def __init__(self, redis: Redis, platform: str, store_id: str) -> None:
        self._redis = redis
        self._hash = f"connector:{platform}:{store_id}:seen"
        self._claim_prefix = f"connector:{platform}:{store_id}:claim:"
        # Concurrent webhooks share round trips (plumbing/scripts.py): redis-py's cost per command was
        # a quarter of a webhook's CPU when each made its own.
        self._classify = ScriptBatch(redis, _CLASSIFY)
        self._record = ScriptBatch(redis, _RECORD)

    async def classify(self, orders: list[tuple[str, datetime, str]]) -> list[Verdict]:
        """Verdicts for (order id, modified time, digest), in one round trip for a whole page."""
        results = await self._classify.run(
            [
                ([self._hash, self._claim_prefix + order_id], [order_id, _micros(modified_at), digest, CLAIM_MS])
                for order_id, modified_at, digest in orders
            ]
        )
        return [Verdict(text(r)) for r in results]

    async def record(self, orders: list[tuple[str, datetime, str]]) -> None:
        """Remember what was published (and drop the claims), in one round trip."""
        await self._record.run(
            [
                ([self._hash, self._claim_prefix + order_id], [order_id, _micros(modified_at), digest])
                for order_id, modified_at, digest in orders
            ]
        )

    async def release(self, order_ids: list[str]) -> None:
        if order_ids:
            await self._redis.delete(*(self._claim_prefix + order_id for order_id in order_ids))


class Cursor:
    """The newest platform modified time a store's poll has published up to; it only moves forward.

    Copies of a connector share it, and take turns: `take_turn` lets the first copy that asks in an interval
    poll the store and the others skip, so N copies do not spend N times the platform's API quota."""

    def __init__(self, redis: Redis, platform: str, store_id: str) -> None:
        self._redis = redis
        self._key = f"connector:{platform}:{store_id}:cursor"
        self._turn_key = f"connector:{platform}:{store_id}:poll-turn"
        self._advance = redis.register_script(_ADVANCE)

    async def take_turn(self, interval: timedelta) -> bool:
        """Whether this copy polls now. The turn lasts 80 % of the interval, so a lone copy, waking one
        interval after its last poll, always finds it free; with more copies a store is polled at most
        once in any 80 % of an interval. A copy that dies holding it loses it when it runs out."""
        hold_ms = max(1, int(interval.total_seconds() * 800))
        return bool(await self._redis.set(self._turn_key, b"1", nx=True, px=hold_ms))

    async def give_back_turn(self) -> None:
        """The turn taken read nothing (the quota had no room): the next slot, here or on another copy, may poll."""
        await self._redis.delete(self._turn_key)

    async def get(self) -> datetime | None:
        value = await self._redis.get(self._key)
        return datetime.fromtimestamp(int(value) / 1_000_000, UTC) if value else None

    async def advance(self, to: datetime) -> None:
        await self._advance(keys=[self._key], args=[_micros(to)])


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)
