"""The link store in Redis: one hash per order, one per outbox, a set of seen event ids, the timers.

- `notifier:order:<key>` (hash): the latest request, the order's status and
  when it was set, the last link's id, sequence and expiry, `force` (a fresh
  link is wanted now), SMTP failure count; the live link's reminder times
  (`remind_at`, epoch seconds), how many are done (`reminded`), and while
  some are still to come, the link itself (`live`: event and delivery).
- `notifier:due` (sorted set): order keys by the time something is due
  (the first link at `notify_after`, a reminder, the expiry check, a retry);
  claimed with a lease and a fence (`notifier/due.py`): beside it
  `notifier:due:claims` (order key → the fence `<epoch>/<owner>` of the copy
  holding it), `notifier:due:leases` (order key → lease end, and a time a
  writer wanted while it was held), `notifier:due:epoch` (the counter).
  Issuing a link, queuing a reminder and flagging a link published are
  refused unless the writing copy's fence still stands.
- `notifier:outbox:<key>` (hash): issued links and queued reminders whose
  event or email is not out yet (`notifier/entries.py`). The raw token lives
  here, and in `live` while reminders are still to come, until the last email
  for the link is accepted by the SMTP server; after that only its hash
  remains (`notifier:link:<sha256>`). Leaving `pending_personalization`
  deletes both, except an entry whose email already went out and whose event
  is stored but not yet published: that one stays, holding only the event,
  and the order stays on the timer until the scheduler has published it.
- `notifier:seen:<key>` (set): input event ids, so a redelivery does nothing.

Each write is one call of the guarded write (`notifier/guarded.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from redis.asyncio import Redis

from notifier.due import RedisTimers
from notifier.entries import EmailedReminder, OutboxEntry, QueuedReminder, entry_json, oldest_first, parse_entry
from notifier.guarded import Applied, Change, GuardedWrites
from notifier.link_state import PP, LinkState, LiveLink, micros
from notifier.policy import ForgetPlan, RequestPlan, StatusPlan
from notifier.store import SEEN_TTL_S, NewLink, Recorded
from schemas import LinkDelivery, OrderStatusChanged, PersonalizationLinkIssued, PersonalizationRequested

DUE = "notifier:due"
_RECORDED = {
    Applied.APPLIED: Recorded.RECORDED,
    Applied.DUPLICATE: Recorded.DUPLICATE,
    Applied.CONFLICT: Recorded.CONFLICT,
}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _texts(row: Mapping[bytes, bytes] | Mapping[str, str]) -> dict[str, str]:
    return {_text(name): _text(value) for name, value in row.items()}


def _live_json(live: LiveLink) -> str:
    return json.dumps({"link": live.link.model_dump_json(), "delivery": live.delivery.model_dump(mode="json")})


def _live(stored: str) -> LiveLink:
    data = json.loads(stored)
    return LiveLink(
        PersonalizationLinkIssued.model_validate_json(data["link"]), LinkDelivery.model_validate(data["delivery"])
    )


def _state(row: dict[str, str], outbox: dict[str, str]) -> LinkState:
    request, live, as_stored = row.get("request"), row.get("live"), tuple(sorted(outbox.items()))
    return LinkState(
        status=row.get("status"),
        status_at=int(row["status_at"]) if "status_at" in row else None,
        request=PersonalizationRequested.model_validate_json(request) if request else None,
        seq=int(row.get("seq", 0)),
        expires=float(row.get("expires", 0)),
        force=row.get("force") == "1",
        smtp_failures=int(row.get("smtp_failures", 0)),
        link_id=row.get("link_id"),
        remind_at=tuple(json.loads(row.get("remind_at", "[]"))),
        reminded=int(row.get("reminded", 0)),
        live=_live(live) if live else None,
        outbox=oldest_first(parse_entry(entry_id, stored) for entry_id, stored in as_stored),
        outbox_as_stored=as_stored,
    )


class RedisLinkStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.timers = RedisTimers(redis, DUE)
        self._writes = GuardedWrites(redis)

    def _held(self, order_key: str, fence: str) -> Change:
        """A change applied only while this copy's claim on the order's timer stands (`notifier/due.py`)."""
        return Change().expect(self.timers.claims_key, order_key, fence)

    @staticmethod
    def _keys(order_key: str) -> tuple[str, str, str]:
        return f"notifier:order:{order_key}", f"notifier:outbox:{order_key}", f"notifier:seen:{order_key}"

    async def state(self, order_key: str) -> LinkState:
        order, outbox, _ = self._keys(order_key)
        async with self._redis.pipeline(transaction=True) as pipe:  # the order and its outbox as of one moment
            pipe.hgetall(order)
            pipe.hgetall(outbox)
            row, entries = await pipe.execute()
        return _state(_texts(row), _texts(entries))

    async def record_request(self, request: PersonalizationRequested, read: LinkState, plan: RequestPlan) -> Recorded:
        order, _, seen = self._keys(request.order_key)
        change = Change().remember(seen, request.event_id, SEEN_TTL_S)
        change.expect(order, "status_at", read.status_at).expect(order, "seq", read.seq, absent="0")
        if plan.marks_pending:
            change.run("HSET", order, "status", PP, "status_at", micros(request.occurred_at))
        change.run("HSET", order, "request", request.model_dump_json())
        if plan.fresh_link:
            change.run("HSET", order, "force", "1")
        change.run("ZADD", DUE, *(["NX"] if plan.keep_timer else []), plan.wake_at.timestamp(), request.order_key)
        return _RECORDED[await self._writes.apply(change)]

    async def record_status(
        self, change: OrderStatusChanged, read: LinkState, plan: StatusPlan, now: datetime
    ) -> Recorded:
        order, _, seen = self._keys(change.order_key)
        write = Change().remember(seen, change.event_id, SEEN_TTL_S).expect(order, "status_at", read.status_at)
        if not plan.stale:
            write.run("HSET", order, "status", change.to_status.value, "status_at", micros(change.occurred_at))
        if plan.forget is not None:
            self._forgetting(write, change.order_key, read, plan.forget, now)
        applied = _RECORDED[await self._writes.apply(write)]
        return Recorded.STALE if plan.stale and applied is Recorded.RECORDED else applied

    async def forget(self, order_key: str, read: LinkState, plan: ForgetPlan, now: datetime) -> bool:
        change = self._forgetting(Change(), order_key, read, plan, now)
        return await self._writes.apply(change) is Applied.APPLIED

    def _forgetting(self, change: Change, order_key: str, read: LinkState, plan: ForgetPlan, now: datetime) -> Change:
        order, outbox, _ = self._keys(order_key)
        change.expect_hash(outbox, dict(read.outbox_as_stored))
        for entry in plan.keep:
            change.run("HSET", outbox, entry.id, entry_json(entry))  # rewritten: nothing but the event stays
        if plan.drop:
            change.run("HDEL", outbox, *plan.drop)
        change.run("HDEL", order, "live")
        if plan.stays_due:
            return change.run("ZADD", DUE, "NX", now.timestamp(), order_key)
        return change.run("ZREM", DUE, order_key)

    async def issue(self, order_key: str, after_seq: int, link: NewLink, *, fence: str) -> bool:
        order, outbox, _ = self._keys(order_key)
        entry = link.entry
        change = self._held(order_key, fence).expect(order, "status", PP).expect(order, "seq", after_seq, absent="0")
        change.run(
            "HSET",
            order,
            "seq",
            entry.sequence,
            "expires",
            link.expires.timestamp(),
            "force",
            "0",
            "link_id",
            entry.link_id,
            "remind_at",
            json.dumps(list(link.remind_at)),
            "reminded",
            "0",
        )
        if link.live is None:
            change.run("HDEL", order, "live")
        else:
            change.run("HSET", order, "live", _live_json(link.live))
        change.run("HSET", outbox, entry.id, entry_json(entry))
        change.run(
            "HSET",
            f"notifier:link:{link.token_sha256}",
            "order_key",
            order_key,
            "link_id",
            entry.link_id,
            "sequence",
            entry.sequence,
            "expires",
            link.expires.timestamp(),
        )
        return await self._writes.apply(change) is Applied.APPLIED

    async def remind(
        self,
        order_key: str,
        seq: int,
        after: int,
        reminded: int,
        last: bool,
        entry: QueuedReminder | None,
        *,
        fence: str,
    ) -> bool:
        order, outbox, _ = self._keys(order_key)
        change = self._held(order_key, fence).expect(order, "status", PP).expect(order, "seq", seq, absent="0")
        change.expect(order, "reminded", after, absent="0").run("HSET", order, "reminded", reminded)
        if last:
            change.run("HDEL", order, "live")
        if entry is not None:
            change.run("HSET", outbox, entry.id, entry_json(entry))
        return await self._writes.apply(change) is Applied.APPLIED

    async def update_outbox(self, order_key: str, entry: OutboxEntry, *, fence: str) -> bool:
        _, outbox, _ = self._keys(order_key)
        change = self._held(order_key, fence).expect_present(outbox, entry.id)
        change.run("HSET", outbox, entry.id, entry_json(entry))
        return await self._writes.apply(change) is Applied.APPLIED

    async def emailed(self, order_key: str, entry: EmailedReminder, now: datetime) -> None:
        _, outbox, _ = self._keys(order_key)
        change = Change().run("HSET", outbox, entry.id, entry_json(entry))
        await self._writes.apply(change.run("ZADD", DUE, "NX", now.timestamp(), order_key))

    async def sent(self, order_key: str, entry_id: str) -> None:
        order, outbox, _ = self._keys(order_key)
        await self._writes.apply(Change().run("HDEL", outbox, entry_id).run("HSET", order, "smtp_failures", 0))

    async def mail_failed(self, order_key: str) -> int:
        order, _, _ = self._keys(order_key)
        return int(await self._redis.hincrby(order, "smtp_failures", 1))
