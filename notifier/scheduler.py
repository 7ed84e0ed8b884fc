"""The durable wait: when an order's time comes, make sure it has a live link, its reminders, and their emails.

One idempotent action per due order, safe to repeat after a crash and safe
with many notifier copies:
1. the order left `pending_personalization` → publish the events of emails
   that already went out (a reminder's), then forget it: no more email;
2. finish what the outbox holds (`notifier/outbox.py`);
3. no link yet, the last one expired, or a fresh one was asked for → issue
   the next link (compare-and-set on its sequence, so two copies never both
   issue link N; an expired one gets its `PersonalizationLinkExpired`);
   else a reminder due → queue it (compare-and-set on the count sent);
   then finish it as in 2;
4. come back at the next reminder, or when the live link expires.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from notifier.outbox import Outbox
from notifier.recipients import addressee
from notifier.reminders import due_reminder, next_wakeup, reminder_times
from notifier.state import PP, NotifierStore, OrderView
from plumbing.links import link_url, new_token, token_hash
from plumbing.logs import event_context
from schemas import PersonalizationLinkExpired, PersonalizationLinkIssued

log = logging.getLogger(__name__)

LEASE_S = 60.0
# After an email went out, Redis writes are retried until the lease's end less this (docs/emails.md).
LEASE_MARGIN_S = 5.0
CONCURRENCY = 16


class LinkScheduler:
    def __init__(self, store: NotifierStore, outbox: Outbox, *, public_url: str, link_ttl: timedelta,
                 clock: Callable[[], datetime], tick_s: float = 0.25) -> None:
        self._store, self._outbox = store, outbox
        self._public_url, self._ttl = public_url, link_ttl
        self._clock, self._tick = clock, tick_s
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                lease_ends = loop.time() + LEASE_S  # taken before the claim: never later than the real lease
                due = await self._store.claim_due(self._clock(), LEASE_S)
                await asyncio.gather(*(self._guarded(key, lease_ends) for key in due))
            except Exception:  # noqa: BLE001 - Redis or the broker away: the claims come due again
                log.exception("scheduler pass failed; retrying")
                await asyncio.sleep(1.0)
            if not due:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self._tick)
                except asyncio.TimeoutError:
                    pass

    async def _guarded(self, order_key: str, lease_ends: float) -> None:
        async with self._slots:
            try:
                with event_context(order_key=order_key):  # every line of this action names the order
                    await self.act(order_key, lease_ends)
            except Exception:  # noqa: BLE001 - the claim's lease brings it back
                log.exception("acting on %s failed; it comes due again in %.0fs", order_key, LEASE_S)

    async def act(self, order_key: str, lease_ends: float | None = None) -> None:
        """`lease_ends`: event-loop time the claim on this order runs out (a full lease from now if not given)."""
        if lease_ends is None:
            lease_ends = asyncio.get_running_loop().time() + LEASE_S
        deadline = lease_ends - LEASE_MARGIN_S
        view = await self._store.view(order_key)
        if view.status != PP or view.request is None:
            await self._outbox.publish_emailed(order_key, deadline)  # emails that went out before: their events
            await self._store.unschedule(order_key, self._clock())
            return
        if not await self._outbox.finish(order_key, view, deadline):
            return
        now = self._clock()
        if view.seq == 0 and now < view.request.notify_after and not view.force:
            await self._store.schedule(order_key, view.request.notify_after)
            return
        if view.force or view.seq == 0 or view.expires <= now.timestamp():
            if not await self._issue(order_key, view, now):
                return  # another copy issued this link, or the order moved on; its schedule stands
        elif (number := due_reminder(view.remind_at, view.reminded, now)) is not None:
            if not await self._remind(order_key, view, number, now):
                return
        else:
            await self._store.schedule(order_key, next_wakeup(view.remind_at, view.reminded, view.expires))
            return
        view = await self._store.view(order_key)
        if not await self._outbox.finish(order_key, view, deadline):
            return
        await self._store.schedule(order_key, next_wakeup(view.remind_at, view.reminded, view.expires))

    async def _issue(self, order_key: str, view: OrderView, now: datetime) -> bool:
        request = view.request
        delivery = request.delivery
        token, sequence, expires = new_token(), view.seq + 1, now + self._ttl
        link = PersonalizationLinkIssued(
            order_key=order_key, occurred_at=now, link_id=str(uuid.uuid4()), url=link_url(self._public_url, token),
            expires_at=expires, sequence=sequence, merchant_email=request.merchant_email, store_id=request.store_id,
            platform=request.platform, order_number=request.order_number, is_test=request.is_test,
            recipient=addressee(request.platform, request.merchant_email, delivery).recipient, items=request.items,
        )
        expired = None
        if view.seq and view.link_id and view.expires <= now.timestamp():
            expired = PersonalizationLinkExpired(
                order_key=order_key, occurred_at=now, link_id=view.link_id, sequence=view.seq,
                store_id=request.store_id, platform=request.platform, order_number=request.order_number,
                is_test=request.is_test, expired_at=datetime.fromtimestamp(view.expires, UTC),
            )
        delivery_json = delivery.model_dump(mode="json")
        entry = {"kind": "link", "link_id": link.link_id, "sequence": sequence, "event": link.model_dump_json(),
                 "expired": expired.model_dump_json() if expired else None, "delivery": delivery_json,
                 "published": False}
        remind_at = reminder_times(now, expires, delivery.reminders)
        # The reminders need the link itself, token and all: kept only while some are still to come.
        live = {"link": link.model_dump_json(), "delivery": delivery_json} if remind_at else None
        issued = await self._store.issue(order_key, view.seq, link.link_id, sequence, expires, token_hash(token),
                                         entry, remind_at, live)
        if issued:
            log.info("issued link %d for %s to the %s, expires %s, %d reminder(s)", sequence, order_key,
                     link.recipient, expires.isoformat(), len(remind_at))
        return issued

    async def _remind(self, order_key: str, view: OrderView, number: int, now: datetime) -> bool:
        last = number >= len(view.remind_at)
        if view.live is None:  # nothing left to remind with (a link issued before reminders existed)
            return await self._store.remind(order_key, view.seq, view.reminded, len(view.remind_at), True, None)
        link = PersonalizationLinkIssued.model_validate_json(view.live["link"])
        entry = {"id": f"{link.link_id}:reminder-{number}", "kind": "reminder", "sequence": view.seq,
                 "reminder": number, "link": view.live["link"], "delivery": view.live["delivery"], "event": None}
        queued = await self._store.remind(order_key, view.seq, view.reminded, number, last, entry)
        if queued and number > view.reminded + 1:
            log.info("skipped overdue reminder(s) %d-%d of %s: only the latest is sent", view.reminded + 1,
                     number - 1, order_key)
        return queued
