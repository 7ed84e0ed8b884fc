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
- `editor:opened:<link_id>` (hash): the claim of the link's one `PersonalizationLinkOpened`, the event
  and whether it is published; `editor:unpublished-opened` (sorted set) lists those not acknowledged.
Everything expires `RETENTION_S` after its last write.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from plumbing.scripts import ScriptBatch
from schemas import (
    OrderStatusChanged,
    PersonalizationCompleted,
    PersonalizationLinkIssued,
    PersonalizationLinkOpened,
    RequestedItem,
)

RETENTION_S = 180 * 86400
DRAFT_TTL_S = 30 * 86400
UNPUBLISHED = "editor:unpublished"
UNPUBLISHED_OPENED = "editor:unpublished-opened"
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

# The first open of a link, once: whoever writes the claim publishes; a second open, tab or editor copy finds it.
_CLAIM_OPENED = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'event', ARGV[1], 'event_id', ARGV[2], 'published', '0')
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
return 1
"""

# A page view: count it against the rate-limit keys, then read the link and what the page needs of its order.
# KEYS: the rate-limit counters, then the link. It also reads the order's keys, named inside the link: on a
# Redis Cluster they would need to share the link's hash slot; one Redis server (any replicas aside) is fine.
_VISIT = """
local counts = {}
for i = 1, #KEYS - 1 do
  counts[i] = redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[1])
end
local link = redis.call('HGETALL', KEYS[#KEYS])
if #link == 0 then return {counts, link} end
local fields = {}
for i = 1, #link, 2 do fields[link[i]] = link[i + 1] end
local key = fields['order_key']
return {counts, link, redis.call('HGETALL', 'editor:order:' .. key),
        redis.call('HGET', 'editor:completed:' .. key, 'seq'), redis.call('GET', 'editor:draft:' .. key),
        redis.call('EXISTS', 'editor:opened:' .. fields['link_id'])}
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
    platform: str = ""
    store_id: str = ""
    opened: bool = False  # its first open is claimed (reported, or being reported)


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _text(row: dict) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in row.items()}


def _pairs(flat: list[bytes]) -> dict[str, str]:
    """A hash as a script returns it (`HGETALL`: name, value, name, value…)."""
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


def _link_view(
    link: dict[str, str], order: dict[str, str] | list, completed: bytes | None, draft: bytes | None, opened: int
) -> LinkView:
    order = _pairs(order) if isinstance(order, list) else order
    return LinkView(
        order_key=link["order_key"],
        link_id=link["link_id"],
        sequence=int(link["sequence"]),
        expires=float(link["expires"]),
        order_number=link["order_number"],
        is_test=link["is_test"] == "1",
        items=_items(order.get("items") or link["items"]),
        latest_seq=int(order.get("seq", link["sequence"])),
        status=order.get("status"),
        completed_seq=int(completed) if completed is not None else None,
        draft=json.loads(draft) if draft else {},
        platform=link.get("platform", ""),
        store_id=link.get("store_id", ""),
        opened=bool(opened),
    )


def _items(raw: str) -> list[RequestedItem]:
    return list(_parsed_items(raw))


@functools.lru_cache(maxsize=1024)
def _parsed_items(raw: str) -> tuple[RequestedItem, ...]:
    """By content: many views show the same items (every view of a link, every order of a template), and the
    models are frozen, so parsing once is enough."""
    return tuple(RequestedItem.model_validate(i) for i in json.loads(raw))


class EditorStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._record_link = redis.register_script(_RECORD_LINK)
        self._record_status = redis.register_script(_RECORD_STATUS)
        self._claim = redis.register_script(_CLAIM)
        self._claim_opened = redis.register_script(_CLAIM_OPENED)
        self._published = redis.register_script(_PUBLISHED)
        self._visit = ScriptBatch(redis, _VISIT)

    async def record_link(self, link: PersonalizationLinkIssued, token_sha256: str) -> None:
        items = json.dumps([item.model_dump(mode="json") for item in link.items])
        await self._record_link(
            keys=[f"editor:link:{token_sha256}", f"editor:order:{link.order_key}"],
            args=[
                link.order_key,
                link.link_id,
                link.sequence,
                link.expires_at.timestamp(),
                link.store_id,
                link.platform,
                link.order_number,
                int(link.is_test),
                items,
                RETENTION_S,
            ],
        )

    async def record_status(self, change: OrderStatusChanged) -> str:
        result = await self._record_status(
            keys=[f"editor:order:{change.order_key}"],
            args=[_micros(change.occurred_at), change.to_status.value, RETENTION_S],
        )
        return result.decode() if isinstance(result, bytes) else result

    async def visit(
        self, token_sha256: str, rate_keys: list[str], window_s: int = 60
    ) -> tuple[list[int], LinkView | None]:
        """Count the request against each rate-limit key (fixed windows) and read the link and its order.

        One script, one round trip, shared with the page views arriving meanwhile (`plumbing/scripts.py`):
        two pipelined round trips per view were a fifth of the editor's CPU per page (profiled)."""
        window = int(time.time()) // window_s
        keys = [*(f"editor:rate:{key}:{window}" for key in rate_keys), f"editor:link:{token_sha256}"]
        ((counts, link, *order_rows),) = await self._visit.run([(keys, [window_s * 2])])
        view = _link_view(_pairs(link), *order_rows) if link else None
        return [int(c) for c in counts], view

    async def view(self, token_sha256: str) -> LinkView | None:
        link = _text(await self._redis.hgetall(f"editor:link:{token_sha256}"))
        if not link:
            return None
        key = link["order_key"]
        async with self._redis.pipeline(transaction=False) as pipe:  # what _VISIT reads: keep the two alike
            pipe.hgetall(f"editor:order:{key}")
            pipe.hget(f"editor:completed:{key}", "seq")
            pipe.get(f"editor:draft:{key}")
            pipe.exists(f"editor:opened:{link['link_id']}")
            order_row, completed, draft, opened = await pipe.execute()
        return _link_view(link, _text(order_row), completed, draft, opened)

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

    async def claim_opened(self, event: PersonalizationLinkOpened) -> bool:
        """Record the link's first open unless one is recorded already; atomic."""
        return bool(
            await self._claim_opened(
                keys=[f"editor:opened:{event.link_id}", UNPUBLISHED_OPENED],
                args=[event.model_dump_json(), event.event_id, time.time(), RETENTION_S, event.link_id],
            )
        )

    async def mark_opened_published(self, event: PersonalizationLinkOpened) -> None:
        await self._published(
            keys=[f"editor:opened:{event.link_id}", UNPUBLISHED_OPENED], args=[event.event_id, event.link_id]
        )

    async def unpublished_opened(self, older_than: float, limit: int = 100) -> list[PersonalizationLinkOpened]:
        """Claimed first opens whose publish is not acknowledged, claimed before `older_than` (epoch seconds)."""
        links = [k.decode() for k in await self._redis.zrangebyscore(UNPUBLISHED_OPENED, "-inf", older_than, 0, limit)]
        events = []
        for link_id in links:
            raw = await self._redis.hget(f"editor:opened:{link_id}", "event")
            if raw is None:
                await self._redis.zrem(UNPUBLISHED_OPENED, link_id)
                continue
            events.append(PersonalizationLinkOpened.model_validate_json(raw))
        return events

    async def lease(self, order_key: str, seconds: int) -> bool:
        """A short lease, so of several editor copies only one republishes an order's completion."""
        return bool(await self._redis.set(f"editor:republishing:{order_key}", "1", nx=True, ex=seconds))
