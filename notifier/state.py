"""The notifier's Redis state: what each order waits for, the durable schedule, the outbox.

- `notifier:order:<key>` (hash): the latest request, the order's status and
  when it was set, the last link's id, sequence and expiry, `force` (a fresh
  link is wanted now), SMTP failure count; the live link's reminder times
  (`remind_at`, epoch seconds), how many are done (`reminded`), and while
  some are still to come, the link itself (`live`: event and delivery).
- `notifier:due` (sorted set): order keys by the time something is due
  (the first link at `notify_after`, a reminder, the expiry check, a retry).
  Claiming moves an entry a lease ahead, so one notifier copy acts on it; a
  copy that dies leaves it to come due again when the lease runs out.
- `notifier:outbox:<key>` (hash): issued links and queued reminders whose
  event or email is not out yet. The raw token lives here, and in `live`
  while reminders are still to come, until the last email for the link is
  accepted by the SMTP server; after that only its hash remains
  (`notifier:link:<sha256>`). Leaving `pending_personalization` deletes both,
  except an entry whose email already went out and whose event is stored but
  not yet published (a reminder's `PersonalizationReminderSent`): that one
  stays, holding only the event, and the order stays on the timer until the
  scheduler has published it.
- `notifier:seen:<key>` (set): input event ids, so a redelivery does nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from notifier.due import DueQueue
from schemas import OrderStatusChanged, PersonalizationRequested, utc_now

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

# Forgetting an order that left `pending_personalization` (KEYS: order hash, due set, outbox; ARGV: order key,
# now): drop every outbox entry and the live link, but an entry already emailed whose event is stored and not
# yet published keeps that event (and nothing else: no raw token), and the order stays due until it is out.
_FORGET = """
local function forget(order, due, outbox, order_key, now)
  local kept = 0
  local entries = redis.call('HGETALL', outbox)
  for i = 1, #entries, 2 do
    local ok, entry = pcall(cjson.decode, entries[i + 1])
    if ok and type(entry) == 'table' and type(entry['event']) == 'string' and entry['kind'] == 'reminder' then
      redis.call('HSET', outbox, entries[i], cjson.encode({kind = 'reminder', sequence = entry['sequence'],
                                                          reminder = entry['reminder'], event = entry['event']}))
      kept = kept + 1
    else
      redis.call('HDEL', outbox, entries[i])
    end
  end
  redis.call('HDEL', order, 'live')
  if kept == 0 then
    redis.call('ZREM', due, order_key)
  else
    redis.call('ZADD', due, 'NX', now, order_key)
  end
  return kept
end
"""

_RECORD_STATUS = _FORGET + """
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 'duplicate' end
redis.call('EXPIRE', KEYS[3], ARGV[4])
local status_at = redis.call('HGET', KEYS[1], 'status_at')
if status_at and tonumber(ARGV[2]) < tonumber(status_at) then return 'stale' end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'status_at', ARGV[2])
if ARGV[3] ~= 'pending_personalization' then forget(KEYS[1], KEYS[2], KEYS[4], ARGV[5], ARGV[6]) end
return 'recorded'
"""

_UNSCHEDULE = _FORGET + """
return forget(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
"""

_ISSUE = """
if redis.call('HGET', KEYS[1], 'status') ~= 'pending_personalization' then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'expires', ARGV[3], 'force', '0', 'link_id', ARGV[4],
           'remind_at', ARGV[7], 'reminded', '0')
if ARGV[8] == '' then redis.call('HDEL', KEYS[1], 'live') else redis.call('HSET', KEYS[1], 'live', ARGV[8]) end
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[3], 'order_key', ARGV[6], 'link_id', ARGV[4], 'sequence', ARGV[2], 'expires', ARGV[3])
return 1
"""

_REMIND = """
if redis.call('HGET', KEYS[1], 'status') ~= 'pending_personalization' then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') ~= tonumber(ARGV[1]) then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'reminded') or '0') ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'reminded', ARGV[3])
if ARGV[4] == '1' then redis.call('HDEL', KEYS[1], 'live') end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], ARGV[5], ARGV[6]) end
return 1
"""

_UPDATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# A reminder's email is out: store its event whatever happened meanwhile (a status change may have dropped the
# entry while SMTP had it), and keep the order on the timer so the event gets published.
_EMAILED = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'NX', ARGV[4], ARGV[3])
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
    link_id: str | None = None
    remind_at: tuple[float, ...] = ()
    reminded: int = 0
    live: dict | None = None  # the live link's event and delivery, kept while reminders are still to come


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


class NotifierStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._record_request = redis.register_script(_RECORD_REQUEST)
        self._record_status = redis.register_script(_RECORD_STATUS)
        self._due = DueQueue(redis, DUE)
        self._issue = redis.register_script(_ISSUE)
        self._remind = redis.register_script(_REMIND)
        self._update = redis.register_script(_UPDATE)
        self._emailed = redis.register_script(_EMAILED)
        self._unschedule = redis.register_script(_UNSCHEDULE)

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

    async def record_status(self, change: OrderStatusChanged, now: datetime | None = None) -> str:
        order, outbox, seen = self._keys(change.order_key)
        now = now or utc_now()
        result = await self._record_status(
            keys=[order, DUE, seen, outbox],
            args=[change.event_id, _micros(change.occurred_at), change.to_status.value, SEEN_TTL_S, change.order_key,
                  now.timestamp()],
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
            smtp_failures=int(row.get("smtp_failures", 0)), link_id=row.get("link_id"),
            remind_at=tuple(json.loads(row.get("remind_at", "[]"))), reminded=int(row.get("reminded", 0)),
            live=json.loads(row["live"]) if row.get("live") else None,
        )

    async def issue(self, order_key: str, previous_seq: int, link_id: str, sequence: int, expires: datetime,
                    token_sha256: str, outbox_entry: dict, remind_at: list[float], live: dict | None) -> bool:
        """Record a new link and its outbox entry, unless another copy issued one since `previous_seq`."""
        order, outbox, _ = self._keys(order_key)
        done = await self._issue(
            keys=[order, outbox, f"notifier:link:{token_sha256}"],
            args=[previous_seq, sequence, expires.timestamp(), link_id, json.dumps(outbox_entry), order_key,
                  json.dumps(remind_at), json.dumps(live) if live else ""],
        )
        return bool(done)

    async def remind(self, order_key: str, sequence: int, previous: int, reminded: int, last: bool,
                     entry: dict | None) -> bool:
        """Count reminders up to `reminded` and queue `entry`, unless another copy did, or the link or status moved."""
        order, outbox, _ = self._keys(order_key)
        done = await self._remind(
            keys=[order, outbox],
            args=[sequence, previous, reminded, "1" if last else "0", entry["id"] if entry else "",
                  json.dumps(entry) if entry else ""],
        )
        return bool(done)

    async def outbox(self, order_key: str) -> list[dict]:
        _, outbox, _ = self._keys(order_key)
        entries = [{"id": k.decode(), **json.loads(v)} for k, v in (await self._redis.hgetall(outbox)).items()]
        return sorted(entries, key=lambda e: (e["sequence"], e.get("reminder", 0)))

    async def update_outbox(self, order_key: str, entry: dict) -> bool:
        """Rewrite an entry still there; False if the order left `pending_personalization` meanwhile (entry gone)."""
        _, outbox, _ = self._keys(order_key)
        return bool(await self._update(keys=[outbox], args=[entry["id"], json.dumps(entry)]))

    async def emailed(self, order_key: str, entry: dict, now: datetime) -> None:
        """A reminder's email went out: store `entry` (its event in it) even if the order moved on meanwhile."""
        _, outbox, _ = self._keys(order_key)
        await self._emailed(keys=[outbox, DUE], args=[entry["id"], json.dumps(entry), order_key, now.timestamp()])

    async def sent(self, order_key: str, entry_id: str) -> None:
        """The entry is done: forget its raw token, keep nothing but the link's hash record."""
        order, outbox, _ = self._keys(order_key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(outbox, entry_id)
            pipe.hset(order, "smtp_failures", 0)
            await pipe.execute()

    async def mail_failed(self, order_key: str) -> int:
        order, _, _ = self._keys(order_key)
        return int(await self._redis.hincrby(order, "smtp_failures", 1))

    async def schedule(self, order_key: str, when: datetime) -> None:
        await self._due.schedule(order_key, when)

    async def unschedule(self, order_key: str, now: datetime) -> int:
        """Forget a finished order; returns how many emailed entries still wait for their event (kept, due)."""
        order, outbox, _ = self._keys(order_key)
        return int(await self._unschedule(keys=[order, DUE, outbox], args=[order_key, now.timestamp()]))
