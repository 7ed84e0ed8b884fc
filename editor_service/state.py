"""The editor's Redis state, built from `personalization.link-issued` and `orders.status`.

- `editor:link:<sha256(token)>` (hash): the link's order key, id, sequence,
  expiry, store, order number, test flag and items. Never the raw token, never
  the merchant's email.
- `editor:order:<order_key>` (hash): the order's status and when it was set
  (`occurred_at` in µs; an older event never overwrites a newer one), and the
  newest link's sequence and items: every live link shows the current items,
  so a completion always covers the lines core is waiting for.
- `editor:completed:<order_key>` (hash): the claim of the one completion:
  the sequence it answered, the `PersonalizationCompleted` event, whether it
  is published. `editor:unpublished` (sorted set, by claim time) lists the
  ones whose publish is not acknowledged yet.
- `editor:draft:<order_key>` (string): the field values saved as the customer types.
Everything expires `RETENTION_S` after its last write.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from schemas import OrderStatusChanged, PersonalizationCompleted, PersonalizationLinkIssued, RequestedItem

RETENTION_S = 180 * 86400
DRAFT_TTL_S = 30 * 86400
UNPUBLISHED = "editor:unpublished"
PP = "pending_personalization"

_RECORD_LINK = """
redis.call('HSET', KEYS[1], 'order_key', ARGV[1], 'link_id', ARGV[2], 'sequence', ARGV[3], 'expires', ARGV[4],
           'store_id', ARGV[5], 'platform', ARGV[6], 'order_number', ARGV[7], 'is_test', ARGV[8], 'items', ARGV[9])
redis.call('EXPIRE', KEYS[1], ARGV[10])
if tonumber(ARGV[3]) >= tonumber(redis.call('HGET', KEYS[2], 'seq') or '0') then
  redis.call('HSET', KEYS[2], 'seq', ARGV[3], 'items', ARGV[9])
end
redis.call('EXPIRE', KEYS[2], ARGV[10])
return 1
"""

_RECORD_STATUS = """
local status_at = redis.call('HGET', KEYS[1], 'status_at')
if status_at and tonumber(ARGV[1]) < tonumber(status_at) then return 'stale' end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'status_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 'recorded'
"""

# One completion per order and link generation: a claim answering sequence N stands against every
# link up to N; only a newer link (items changed, or core refused ours and the order is still
# pending) may claim again.
_CLAIM = """
local held = redis.call('HGET', KEYS[1], 'seq')
if held and tonumber(held) >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'event', ARGV[2], 'event_id', ARGV[3], 'published', '0')
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[6])
return 1
"""

_PUBLISHED = """
if redis.call('HGET', KEYS[1], 'event_id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'published', '1')
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class LinkView:
    """What one page view needs, read in one round trip."""

    order_key: str
    link_id: str
    sequence: int
    expires: float
    order_number: str
    is_test: bool
    items: list[RequestedItem]
    latest_seq: int
    status: str | None
    completed_seq: int | None
    draft: dict[str, str]


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _text(row: dict) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in row.items()}


class EditorStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._record_link = redis.register_script(_RECORD_LINK)
        self._record_status = redis.register_script(_RECORD_STATUS)
        self._claim = redis.register_script(_CLAIM)
        self._published = redis.register_script(_PUBLISHED)

    async def record_link(self, link: PersonalizationLinkIssued, token_sha256: str) -> None:
        items = json.dumps([item.model_dump(mode="json") for item in link.items])
        await self._record_link(
            keys=[f"editor:link:{token_sha256}", f"editor:order:{link.order_key}"],
            args=[link.order_key, link.link_id, link.sequence, link.expires_at.timestamp(), link.store_id,
                  link.platform, link.order_number, int(link.is_test), items, RETENTION_S],
        )

    async def record_status(self, change: OrderStatusChanged) -> str:
        result = await self._record_status(keys=[f"editor:order:{change.order_key}"],
                                           args=[_micros(change.occurred_at), change.to_status.value, RETENTION_S])
        return result.decode() if isinstance(result, bytes) else result

    async def visit(self, token_sha256: str, rate_keys: list[str], window_s: int = 60) -> tuple[list[int], LinkView | None]:
        """Count the request against each rate-limit key (fixed windows) and read the link: two round trips."""
        window = int(time.time()) // window_s
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in rate_keys:
                pipe.incr(f"editor:rate:{key}:{window}")
                pipe.expire(f"editor:rate:{key}:{window}", window_s * 2)
            pipe.hgetall(f"editor:link:{token_sha256}")
            *counts, link = await pipe.execute()
        return [int(c) for c in counts[::2]], await self._view(_text(link))

    async def view(self, token_sha256: str) -> LinkView | None:
        return await self._view(_text(await self._redis.hgetall(f"editor:link:{token_sha256}")))

    async def _view(self, link: dict[str, str]) -> LinkView | None:
        if not link:
            return None
        key = link["order_key"]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(f"editor:order:{key}")
            pipe.hget(f"editor:completed:{key}", "seq")
            pipe.get(f"editor:draft:{key}")
            order_row, completed, draft = await pipe.execute()
        order = _text(order_row)
        items = order.get("items") or link["items"]
        return LinkView(
            order_key=key, link_id=link["link_id"], sequence=int(link["sequence"]), expires=float(link["expires"]),
            order_number=link["order_number"], is_test=link["is_test"] == "1",
            items=[RequestedItem.model_validate(i) for i in json.loads(items)],
            latest_seq=int(order.get("seq", link["sequence"])), status=order.get("status"),
            completed_seq=int(completed) if completed is not None else None,
            draft=json.loads(draft) if draft else {},
        )

    async def save_draft(self, order_key: str, values: dict[str, str]) -> None:
        await self._redis.set(f"editor:draft:{order_key}", json.dumps(values), ex=DRAFT_TTL_S)

    async def claim(self, completion: PersonalizationCompleted, sequence: int) -> bool:
        """Record the order's completion unless one already answers this link generation; atomic."""
        key = completion.order_key
        claimed = await self._claim(
            keys=[f"editor:completed:{key}", UNPUBLISHED],
            args=[sequence, completion.model_dump_json(), completion.event_id, time.time(), RETENTION_S, key],
        )
        return bool(claimed)

    async def mark_published(self, completion: PersonalizationCompleted) -> None:
        key = completion.order_key
        await self._published(keys=[f"editor:completed:{key}", UNPUBLISHED], args=[completion.event_id, key])

    async def unpublished(self, older_than: float, limit: int = 100) -> list[PersonalizationCompleted]:
        """Claimed completions whose publish is not acknowledged, claimed before `older_than` (epoch seconds)."""
        keys = [k.decode() for k in await self._redis.zrangebyscore(UNPUBLISHED, "-inf", older_than, 0, limit)]
        events = []
        for key in keys:
            raw = await self._redis.hget(f"editor:completed:{key}", "event")
            if raw is None:  # expired or lost: nothing left to publish
                await self._redis.zrem(UNPUBLISHED, key)
                continue
            events.append(PersonalizationCompleted.model_validate_json(raw))
        return events

    async def lease(self, order_key: str, seconds: int) -> bool:
        """A short lease, so of several editor copies only one republishes an order's completion."""
        return bool(await self._redis.set(f"editor:republishing:{order_key}", "1", nx=True, ex=seconds))
