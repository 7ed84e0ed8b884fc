"""The notifier's Redis state: what each order waits for, the durable schedule, the outbox.

- `notifier:order:<key>` (hash): the latest request, the order's status and
  when it was set, the last link's sequence and expiry, `force` (a fresh link
  is wanted now), SMTP failure count.
- `notifier:due` (sorted set): order keys by the time something is due
  (the first link at `notify_after`, the expiry check, a retry). Claiming
  moves an entry a lease ahead, so one notifier copy acts on it; a copy that
  dies leaves it to come due again when the lease runs out.
- `notifier:outbox:<key>` (hash): issued links whose event or email is not
  out yet. The raw token lives here only until the email is accepted by the
  SMTP server; after that only its hash remains (`notifier:link:<sha256>`).
- `notifier:seen:<key>` (set): input event ids, so a redelivery does nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from notifier.due import DueQueue
from schemas import OrderStatusChanged, PersonalizationRequested

DUE = "notifier:due"
SEEN_TTL_S = 60 * 86400
PP = "pending_personalization"

_RECORD_REQUEST = """
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 'duplicate' end
redis.call('EXPIRE', KEYS[3], ARGV[7])
local status_at = redis.call('HGET', KEYS[1], 'status_at')
if (not status_at) or tonumber(ARGV[2]) >= tonumber(status_at) then
  redis.call('HSET', KEYS[1], 'status', 'pending_personalization', 'status_at', ARGV[2])
end
redis.call('HSET', KEYS[1], 'request', ARGV[3])
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if ARGV[4] == 'resend_requested' or (ARGV[4] == 'items_changed' and seq > 0) then
  redis.call('HSET', KEYS[1], 'force', '1')
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[8])
else
  redis.call('ZADD', KEYS[2], 'NX', ARGV[5], ARGV[8])
end
return 'recorded'
"""

_RECORD_STATUS = """
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 'duplicate' end
redis.call('EXPIRE', KEYS[3], ARGV[4])
local status_at = redis.call('HGET', KEYS[1], 'status_at')
if status_at and tonumber(ARGV[2]) < tonumber(status_at) then return 'stale' end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'status_at', ARGV[2])
if ARGV[3] ~= 'pending_personalization' then
  redis.call('ZREM', KEYS[2], ARGV[5])
  redis.call('DEL', KEYS[4])
end
return 'recorded'
"""

_ISSUE = """
if tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'expires', ARGV[3], 'force', '0')
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[3], 'order_key', ARGV[6], 'link_id', ARGV[4], 'sequence', ARGV[2], 'expires', ARGV[3])
return 1
"""


@dataclass(frozen=True)
class OrderView:
    status: str | None
    request: PersonalizationRequested | None
    seq: int
    expires: float
    force: bool
    smtp_failures: int


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


class NotifierStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._record_request = redis.register_script(_RECORD_REQUEST)
        self._record_status = redis.register_script(_RECORD_STATUS)
        self._due = DueQueue(redis, DUE)
        self._issue = redis.register_script(_ISSUE)

    @staticmethod
    def _keys(order_key: str) -> tuple[str, str, str]:
        return f"notifier:order:{order_key}", f"notifier:outbox:{order_key}", f"notifier:seen:{order_key}"

    async def record_request(self, request: PersonalizationRequested, now: datetime) -> str:
        order, _, seen = self._keys(request.order_key)
        result = await self._record_request(
            keys=[order, DUE, seen],
            args=[request.event_id, _micros(request.occurred_at), request.model_dump_json(), request.trigger,
                  request.notify_after.timestamp(), now.timestamp(), SEEN_TTL_S, request.order_key],
        )
        return result.decode() if isinstance(result, bytes) else result

    async def record_status(self, change: OrderStatusChanged) -> str:
        order, outbox, seen = self._keys(change.order_key)
        result = await self._record_status(
            keys=[order, DUE, seen, outbox],
            args=[change.event_id, _micros(change.occurred_at), change.to_status.value, SEEN_TTL_S, change.order_key],
        )
        return result.decode() if isinstance(result, bytes) else result

    async def claim_due(self, now: datetime, lease_s: float, limit: int = 100) -> list[str]:
        return await self._due.claim(now, lease_s, limit)

    async def view(self, order_key: str) -> OrderView:
        order, _, _ = self._keys(order_key)
        row = {k.decode(): v.decode() for k, v in (await self._redis.hgetall(order)).items()}
        request = row.get("request")
        return OrderView(
            status=row.get("status"),
            request=PersonalizationRequested.model_validate_json(request) if request else None,
            seq=int(row.get("seq", 0)), expires=float(row.get("expires", 0)), force=row.get("force") == "1",
            smtp_failures=int(row.get("smtp_failures", 0)),
        )

    async def issue(self, order_key: str, previous_seq: int, link_id: str, sequence: int, expires: datetime,
                    token_sha256: str, outbox_entry: dict) -> bool:
        """Record a new link and its outbox entry, unless another copy issued one since `previous_seq`."""
        order, outbox, _ = self._keys(order_key)
        done = await self._issue(
            keys=[order, outbox, f"notifier:link:{token_sha256}"],
            args=[previous_seq, sequence, expires.timestamp(), link_id, json.dumps(outbox_entry), order_key],
        )
        return bool(done)

    async def outbox(self, order_key: str) -> list[dict]:
        _, outbox, _ = self._keys(order_key)
        entries = [json.loads(v) for v in (await self._redis.hgetall(outbox)).values()]
        return sorted(entries, key=lambda e: e["sequence"])

    async def update_outbox(self, order_key: str, entry: dict) -> None:
        _, outbox, _ = self._keys(order_key)
        await self._redis.hset(outbox, entry["link_id"], json.dumps(entry))

    async def sent(self, order_key: str, link_id: str) -> None:
        """The email is out: forget the raw token, keep nothing but the link's hash record."""
        order, outbox, _ = self._keys(order_key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(outbox, link_id)
            pipe.hset(order, "smtp_failures", 0)
            await pipe.execute()

    async def mail_failed(self, order_key: str) -> int:
        order, _, _ = self._keys(order_key)
        return int(await self._redis.hincrby(order, "smtp_failures", 1))

    async def schedule(self, order_key: str, when: datetime) -> None:
        await self._due.schedule(order_key, when)

    async def unschedule(self, order_key: str) -> None:
        _, outbox, _ = self._keys(order_key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(DUE, order_key)
            pipe.delete(outbox)
            await pipe.execute()
