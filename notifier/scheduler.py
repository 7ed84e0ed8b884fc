"""The durable wait: when an order's time comes, make sure it has a live link, and that its email went out.

One idempotent action per due order, safe to repeat after a crash and safe
with many notifier copies:
1. the order left `pending_personalization` → forget it: no more email;
2. finish what the outbox holds (publish the link event, send the email);
3. no link yet, the last one expired, or a fresh one was asked for → issue
   the next link (compare-and-set on its sequence, so two copies never both
   issue link N), then finish it as in 2;
4. come back when the live link expires.
An SMTP failure keeps the outbox and retries with backoff: never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from aiokafka import AIOKafkaProducer

from notifier.mail import MailError, MailSender
from notifier.recipients import recipient_for
from notifier.render import render_link_email
from notifier.state import PP, NotifierStore, OrderView
from personalize.kafka import publish
from personalize.links import link_url, new_token, token_hash
from schemas import PersonalizationLinkIssued

log = logging.getLogger(__name__)

LEASE_S = 60.0
CONCURRENCY = 16
MAIL_BACKOFF_MAX_S = 300.0


class LinkScheduler:
    def __init__(self, store: NotifierStore, producer: AIOKafkaProducer, mailer: MailSender, *, public_url: str,
                 link_ttl: timedelta, mail_from: str, clock: Callable[[], datetime], tick_s: float = 0.25) -> None:
        self._store, self._producer, self._mailer = store, producer, mailer
        self._public_url, self._ttl, self._from = public_url, link_ttl, mail_from
        self._clock, self._tick = clock, tick_s
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                due = await self._store.claim_due(self._clock(), LEASE_S)
                await asyncio.gather(*(self._guarded(key) for key in due))
            except Exception:  # noqa: BLE001 - Redis or the broker away: the claims come due again
                log.exception("scheduler pass failed; retrying")
                await asyncio.sleep(1.0)
            if not due:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self._tick)
                except asyncio.TimeoutError:
                    pass

    async def _guarded(self, order_key: str) -> None:
        async with self._slots:
            try:
                await self.act(order_key)
            except Exception:  # noqa: BLE001 - the claim's lease brings it back
                log.exception("acting on %s failed; it comes due again in %.0fs", order_key, LEASE_S)

    async def act(self, order_key: str) -> None:
        view = await self._store.view(order_key)
        if view.status != PP or view.request is None:
            await self._store.unschedule(order_key)
            return
        if not await self._finish_outbox(order_key):
            return
        now = self._clock()
        if view.seq == 0 and now < view.request.notify_after and not view.force:
            await self._store.schedule(order_key, view.request.notify_after)
            return
        if view.force or view.seq == 0 or view.expires <= now.timestamp():
            if not await self._issue(order_key, view, now):
                return  # another copy issued this link; its schedule stands
            if not await self._finish_outbox(order_key):
                return
            view = await self._store.view(order_key)
        await self._store.schedule(order_key, datetime.fromtimestamp(view.expires, timezone.utc))

    async def _issue(self, order_key: str, view: OrderView, now: datetime) -> bool:
        request = view.request
        token, sequence, expires = new_token(), view.seq + 1, now + self._ttl
        link = PersonalizationLinkIssued(
            order_key=order_key, occurred_at=now, link_id=str(uuid.uuid4()), url=link_url(self._public_url, token),
            expires_at=expires, sequence=sequence, merchant_email=request.merchant_email, store_id=request.store_id,
            platform=request.platform, order_number=request.order_number, is_test=request.is_test, items=request.items,
        )
        entry = {"link_id": link.link_id, "sequence": sequence, "event": link.model_dump_json(), "published": False}
        issued = await self._store.issue(order_key, view.seq, link.link_id, sequence, expires, token_hash(token), entry)
        if issued:
            log.info("issued link %d for %s, expires %s", sequence, order_key, expires.isoformat())
        return issued

    async def _finish_outbox(self, order_key: str) -> bool:
        """Publish and email every pending link, oldest first; False if the mail server is unavailable."""
        for entry in await self._store.outbox(order_key):
            link = PersonalizationLinkIssued.model_validate_json(entry["event"])
            if not entry["published"]:
                await publish(self._producer, [link])
                await self._store.update_outbox(order_key, {**entry, "published": True})
            email = render_link_email(link, recipient_for(link))
            try:
                await self._mailer.send(email.message(self._from))
            except MailError as error:
                failures = await self._store.mail_failed(order_key)
                delay = min(MAIL_BACKOFF_MAX_S, 2.0 ** min(failures, 9)) * random.uniform(0.5, 1.0)  # noqa: S311
                log.warning("email for %s link %d not sent (%s); retry %d in %.1fs", order_key, link.sequence,
                            error, failures, delay)
                await self._store.schedule(order_key, self._clock() + timedelta(seconds=delay))
                return False
            await self._store.sent(order_key, link.link_id)
            log.info("emailed link %d of %s to %s", link.sequence, order_key, email.to)
        return True
