"""Finishing an order's outbox: each issued link and queued reminder, oldest first, every step recorded in the store.

- A link: its events (`PersonalizationLinkExpired` for the link it replaces,
  then `PersonalizationLinkIssued`) are published first, so the editor knows
  the token before anyone can click it, and flagged; then the email; then the
  entry is deleted, and with it the raw token.
- A reminder: the email first; then `PersonalizationReminderSent` is built
  and stored in the entry; then published; then the entry is deleted. So the
  event never announces an email that did not go out, and a crash after the
  email still publishes it.
- A step repeated after a crash publishes the same `event_id` again
  (consumers and the webhook jobs dedupe on it), never a second event.
- After the SMTP server's 250 the next Redis write (the link's entry deleted,
  the reminder's event stored) is retried with backoff while the order's
  lease lasts, so Redis away for a few seconds costs no second email. The
  window left for one: a crash between the 250 and that write, or Redis away
  for the rest of the lease; the Message-ID lets mail systems tell.
- A reminder emailed just before its order left `pending_personalization`
  still gets its event: the status change keeps such an entry (event only)
  and `publish_emailed` publishes it.
- An SMTP failure keeps the entry and retries with backoff: never dropped.
- Right before each email and each publish the copy checks that it still
  holds the order (its fence, renewing the lease): one that lost it to
  another copy stops (`ClaimLost`) without sending.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from notifier import policy
from notifier.entries import EmailedReminder, LinkEntry, OutboxEntry, QueuedReminder
from notifier.leases import Lease
from notifier.link_state import LinkState
from notifier.mail import MailError, MailSender
from notifier.recipients import addressee
from notifier.render import EmailKind, EmailRenderer, RenderedEmail
from notifier.store import LinkStore
from plumbing.kafka import publish
from plumbing.redis_errors import RedisUnavailable
from schemas import PersonalizationReminderSent

log = logging.getLogger(__name__)

MAIL_BACKOFF_MAX_S = 300.0
# After an email went out, Redis writes are retried until the lease's end less this (docs/emails.md).
LEASE_MARGIN_S = 5.0
# Redis away after an email went out: the writes that follow are retried, first after this, doubling up to the cap.
WRITE_RETRY_FIRST_S = 0.1
WRITE_RETRY_MAX_S = 5.0
WRITE_ATTEMPT_MIN_S = 5.0  # even past the deadline one attempt is made: the write still saves a later duplicate
_REDIS_AWAY = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, RedisUnavailable, OSError, asyncio.TimeoutError)

T = TypeVar("T")


class Outbox:
    def __init__(
        self,
        store: LinkStore,
        producer: AIOKafkaProducer,
        mailer: MailSender,
        renderer: EmailRenderer,
        *,
        mail_from: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._store, self._producer, self._mailer, self._renderer = store, producer, mailer, renderer
        self._from, self._clock = mail_from, clock

    async def finish(self, order_key: str, state: LinkState, lease: Lease) -> bool:
        """Every entry of `state.outbox` out; False if one could not be (mail server away, or the order moved on).

        `lease`: this copy's claim on the order, checked (and renewed) right before each email and publish, so a
        copy that lost it sends nothing more (`ClaimLost`); writes after an email are retried until it runs out.
        """
        for entry in state.outbox:
            if not await self._finish(order_key, entry, state, lease):
                return False
        return True

    async def _finish(self, order_key: str, entry: OutboxEntry, state: LinkState, lease: Lease) -> bool:
        if isinstance(entry, LinkEntry):
            return await self._link(order_key, entry, lease)
        if isinstance(entry, QueuedReminder):
            return await self._reminder(order_key, entry, state, lease)
        return await self._announce(order_key, entry, lease)

    async def publish_emailed(self, order_key: str, state: LinkState, lease: Lease) -> None:
        """An order that left `pending_personalization`: publish the events of emails that already went out."""
        emailed = [entry for entry in state.outbox if isinstance(entry, EmailedReminder)]
        if not emailed:
            return
        await lease.hold()
        await publish(self._producer, [entry.event for entry in emailed])
        for entry in emailed:
            await self._after_email(partial(self._store.sent, order_key, entry.id), lease, order_key)
        log.info(
            "published %d reminder event(s) of %s, emailed before it left pending_personalization",
            len(emailed),
            order_key,
        )

    async def _link(self, order_key: str, entry: LinkEntry, lease: Lease) -> bool:
        link = entry.event
        if not entry.published:
            await lease.hold()
            await publish(self._producer, [event for event in (entry.expired, link) if event is not None])
            entry = entry.model_copy(update={"published": True})
            if not await self._store.update_outbox(order_key, entry, fence=lease.claim.fence):
                return False  # completed or cancelled meanwhile (or another copy has it now): no email
        to = addressee(link.platform, link.merchant_email, entry.wanted)
        kind: EmailKind = "link" if link.sequence == 1 else "reissued_link"
        email = self._renderer.render(kind, link, entry.wanted, to, expired=entry.expired is not None)
        if not await self._send(order_key, email, f"link {link.sequence}", lease):
            return False
        await self._after_email(partial(self._store.sent, order_key, entry.id), lease, order_key)
        log.info("emailed link %d of %s to the %s", link.sequence, order_key, to.recipient)
        return True

    async def _reminder(self, order_key: str, entry: QueuedReminder, state: LinkState, lease: Lease) -> bool:
        if policy.reminder_outdated(entry, state, self._clock()):
            await self._store.sent(order_key, entry.id)  # its link was replaced or expired before it went out
            return True
        link = entry.link
        to = addressee(link.platform, link.merchant_email, entry.wanted)
        email = self._renderer.render("reminder", link, entry.wanted, to, reminder=entry.reminder)
        if not await self._send(order_key, email, f"reminder {entry.reminder} of link {link.sequence}", lease):
            return False
        sent = PersonalizationReminderSent(
            order_key=order_key,
            occurred_at=self._clock(),
            link_id=link.link_id,
            sequence=link.sequence,
            store_id=link.store_id,
            platform=link.platform,
            order_number=link.order_number,
            is_test=link.is_test,
            reminder=entry.reminder,
            recipient=to.recipient,
            expires_at=link.expires_at,
        )
        # From here the entry needs only its event: the link (raw token) and delivery leave Redis.
        emailed = entry.emailed(sent)
        # Stored even if the order moved on while SMTP had the email: the event must still go out, once.
        await self._after_email(lambda: self._store.emailed(order_key, emailed, self._clock()), lease, order_key)
        log.info(
            "emailed reminder %d of link %d of %s to the %s", entry.reminder, link.sequence, order_key, to.recipient
        )
        return await self._announce(order_key, emailed, lease)

    async def _announce(self, order_key: str, entry: EmailedReminder, lease: Lease) -> bool:
        await lease.hold()
        await publish(self._producer, [entry.event])
        await self._after_email(partial(self._store.sent, order_key, entry.id), lease, order_key)
        return True

    async def _after_email(self, write: Callable[[], Awaitable[T]], lease: Lease, order_key: str) -> T:
        """A Redis write after an email went out, retried with backoff while Redis is away, until the lease's end
        less a margin (`LEASE_MARGIN_S`): then another copy may claim the order.

        Not fenced: it records what happened (the email went out), which is true whoever holds the order now.

        Failing it would end the action and, once the lease ran out, send the same email again. Each attempt
        is also bounded by the deadline (at least WRITE_ATTEMPT_MIN_S: a Redis that hangs rather than refuses);
        the writes are idempotent, so an attempt that timed out after it applied is harmless to repeat.
        """
        loop = asyncio.get_running_loop()
        delay, attempt = WRITE_RETRY_FIRST_S, 1
        while True:
            left = lease.ends - LEASE_MARGIN_S - loop.time()
            try:
                return await asyncio.wait_for(write(), timeout=max(left, WRITE_ATTEMPT_MIN_S))
            except _REDIS_AWAY as error:
                left = lease.ends - LEASE_MARGIN_S - loop.time()
                if left <= delay:
                    log.error(
                        "Redis still away after an email for %s went out (%d attempts): giving up; when the "
                        "lease runs out the email goes again",
                        order_key,
                        attempt,
                    )
                    raise
                log.warning(
                    "Redis away after an email for %s went out (%s: %s); retry %d in %.1fs",
                    order_key,
                    type(error).__name__,
                    error,
                    attempt,
                    delay,
                )
            await asyncio.sleep(delay)
            delay, attempt = min(delay * 2, WRITE_RETRY_MAX_S), attempt + 1

    async def _send(self, order_key: str, email: RenderedEmail, what: str, lease: Lease) -> bool:
        await lease.hold()  # the last moment to find another copy took the order: after it, the email is out
        try:
            await self._mailer.send(email.message(self._from))
        except MailError as error:
            failures = await self._store.mail_failed(order_key)
            delay = min(MAIL_BACKOFF_MAX_S, 2.0 ** min(failures, 9)) * random.uniform(0.5, 1.0)  # jitter, not secrecy
            log.warning("email for %s %s not sent (%s); retry %d in %.1fs", order_key, what, error, failures, delay)
            await lease.release(self._clock() + timedelta(seconds=delay))
            return False
        return True
