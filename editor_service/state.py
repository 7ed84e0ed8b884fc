"""The editor's state (`store.py`) in Redis.

- `editor:link:<sha256(token)>` (hash): the link's order key, id, sequence, expiry, store, order number,
  test flag and items;
- `editor:order:<order_key>` (hash): `status` and `status_at` (`occurred_at` in µs), the newest link's
  `seq` and `items`;
- `editor:draft:<order_key>` (string): the draft's JSON;
- `editor:rate:<key>:<window>` (counter): requests in one fixed window;
- the claims (`claims.py`): `editor:completed:<order_key>` listed in `editor:unpublished`, and
  `editor:opened:<link_id>` listed in `editor:unpublished-opened`.
The scripts are compare-and-set steps (the newest link's items, the newest status), and one read: a page
view's.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from editor_service.claims import ClaimKeys, Clock, RedisClaims
from editor_service.store import DRAFT_TTL_S, RATE_WINDOW_S, RETENTION_S, LinkView, Recorded
from plumbing.scripts import ScriptBatch
from schemas import OrderStatusChanged, PersonalizationLinkIssued, RequestedItem

LINK, ORDER, DRAFT = "editor:link:", "editor:order:", "editor:draft:"
UNPUBLISHED = "editor:unpublished"
UNPUBLISHED_OPENED = "editor:unpublished-opened"
COMPLETED = ClaimKeys(claims="editor:completed:", pending=UNPUBLISHED, leases="editor:republishing:")
OPENED = ClaimKeys(claims="editor:opened:", pending=UNPUBLISHED_OPENED, leases="editor:republishing:opened:")

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

# A page view: count it against the rate-limit keys, then read the link and what the page needs of its order.
# KEYS: the rate-limit counters, then the link; ARGV: the counters' TTL, then the prefixes of the order, the
# completion claim, the draft and the first-open claim. It also reads the order's keys, named inside the link: on
# a Redis Cluster they would need to share the link's hash slot; one Redis server (any replicas aside) is fine.
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
return {counts, link, redis.call('HGETALL', ARGV[2] .. key), redis.call('HGET', ARGV[3] .. key, 'seq'),
        redis.call('GET', ARGV[4] .. key), redis.call('EXISTS', ARGV[5] .. fields['link_id'])}
"""
_VISIT_PREFIXES = (ORDER, COMPLETED.claims, DRAFT, OPENED.claims)


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _text(row: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {_str(k): _str(v) for k, v in row.items()}


def _pairs(flat: list[bytes]) -> dict[str, str]:
    """A hash as a script returns it (`HGETALL`: name, value, name, value…)."""
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


def _link_view(
    link: dict[str, str], order: dict[str, str], completed: bytes | None, draft: bytes | None, opened: int
) -> LinkView:
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


def _visited(answer: list[Any]) -> tuple[list[int], LinkView | None]:
    counts, link, *order_rows = answer
    if not link:
        return [int(c) for c in counts], None
    order, completed, draft, opened = order_rows
    return [int(c) for c in counts], _link_view(_pairs(link), _pairs(order), completed, draft, opened)


class EditorStore:
    def __init__(self, redis: Redis, clock: Clock = time.time) -> None:
        self._redis, self._clock = redis, clock
        self._record_link = redis.register_script(_RECORD_LINK)
        self._record_status = redis.register_script(_RECORD_STATUS)
        self._visit = ScriptBatch(redis, _VISIT)
        self.completions = RedisClaims(redis, COMPLETED, RETENTION_S, clock)
        self.first_opens = RedisClaims(redis, OPENED, RETENTION_S, clock)

    async def record_link(self, link: PersonalizationLinkIssued, token_sha256: str) -> None:
        items = json.dumps([item.model_dump(mode="json") for item in link.items])
        await self._record_link(
            keys=[LINK + token_sha256, ORDER + link.order_key],
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

    async def record_status(self, change: OrderStatusChanged) -> Recorded:
        args = [_micros(change.occurred_at), change.to_status.value, RETENTION_S]
        result = await self._record_status(keys=[ORDER + change.order_key], args=args)
        return "stale" if result in (b"stale", "stale") else "recorded"

    async def visit(
        self, token_sha256: str, rate_keys: list[str], window_s: int = RATE_WINDOW_S
    ) -> tuple[list[int], LinkView | None]:
        """One script, one round trip, shared with the page views arriving meanwhile (`plumbing/scripts.py`):
        two pipelined round trips per view were a fifth of the editor's CPU per page (profiled)."""
        window = int(self._clock()) // window_s
        keys = [*(f"editor:rate:{key}:{window}" for key in rate_keys), LINK + token_sha256]
        (answer,) = await self._visit.run([(keys, [window_s * 2, *_VISIT_PREFIXES])])
        return _visited(cast(list[Any], answer))

    async def view(self, token_sha256: str) -> LinkView | None:
        link = _text(await self._redis.hgetall(LINK + token_sha256))
        if not link:
            return None
        key = link["order_key"]
        async with self._redis.pipeline(transaction=False) as pipe:  # what _VISIT reads: keep the two alike
            pipe.hgetall(ORDER + key)
            pipe.hget(COMPLETED.claims + key, "seq")
            pipe.get(DRAFT + key)
            pipe.exists(OPENED.claims + link["link_id"])
            order_row, completed, draft, opened = await pipe.execute()
        return _link_view(link, _text(order_row), completed, draft, opened)

    async def save_draft(self, order_key: str, values: dict[str, str]) -> None:
        await self._redis.set(DRAFT + order_key, json.dumps(values), ex=DRAFT_TTL_S)
