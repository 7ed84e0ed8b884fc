"""Emails about a store's addresses: the link confirming a new one, and a notice to the address in effect.

The merchant API records the change and publishes `MerchantEmailChangeRequested`; sending mail is this
service's job. Its own consumer group, so a mail server outage here never holds up the links' emails
(which keep their own outbox), and the other way round.

- An SMTP failure is waited out like an outage: the batch is rewound and retried with backoff, so nothing
  is dropped, and the event (which holds the confirmation URL) never goes to `dead-letters`.
- A redelivered event finds its emails marked sent (`notifier:email-change-sent:<event_id>:<kind>`) and sends
  nothing twice; an event past its `expires_at` sends nothing, its link would not work.
- Not translated yet: English for every store (`docs/emails.md`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from redis.asyncio import Redis

from notifier.mail import MailError, MailSender
from notifier.render import RenderedEmail, plain_email
from notifier.settings import NotifierSettings
from plumbing.consumer import Outcome, Received
from plumbing.kafka import ensure_topics
from plumbing.service import Service
from schemas import STORES_EMAIL_CHANGES, MerchantEmailChangeRequested, utc_now

log = logging.getLogger(__name__)

GROUP_SUFFIX = "-email-changes"  # after PERSONALIZE_NOTIFIER_GROUP: `notifier-email-changes` by default
TOPICS = (STORES_EMAIL_CHANGES,)
SENT_PREFIX = "notifier:email-change-sent:"
SENT_KEPT = timedelta(days=2)  # longer than a change may wait, so a late redelivery still finds the mark

Kind = Literal["email_change_confirm", "email_change_notice"]


def render(kind: Kind, event: MerchantEmailChangeRequested, to: str) -> RenderedEmail:
    context = {
        "event": event,
        "what": "emails for the store" if event.field == "merchant_email" else "replies to the store's emails",
        "store": f"{event.platform}:{event.store_id}",
        "expires": f"{event.expires_at:%Y-%m-%d %H:%M} UTC",
    }
    return plain_email(kind, context, to, event.event_id, event.sender_name)


class EmailChangeMailer:
    """Consumer handler: the confirmation link to the new address, the notice to the one in effect."""

    def __init__(self, redis: Redis, mailer: MailSender, mail_from: str, clock: Callable[[], datetime]) -> None:
        self._redis, self._mailer, self._from, self._clock = redis, mailer, mail_from, clock

    async def __call__(self, batch: list[Received]) -> Outcome:
        for item in batch:
            event = item.event
            if not isinstance(event, MerchantEmailChangeRequested):
                continue
            if event.expires_at <= self._clock():
                log.info("email change %s of %s expired before it was mailed", event.event_id, event.order_key)
                continue
            await self._send(event, "email_change_confirm", event.new_address)
            await self._send(event, "email_change_notice", event.current_address)
        return Outcome()

    async def _send(self, event: MerchantEmailChangeRequested, kind: Kind, to: str) -> None:
        mark = f"{SENT_PREFIX}{event.event_id}:{kind}"
        if await self._redis.exists(mark):
            return
        try:
            await self._mailer.send(render(kind, event, to).message(self._from))
        except MailError as error:  # an outage to wait out (the consumer rewinds), never a dead letter
            raise ConnectionError(f"mail server unavailable for {kind}: {error}") from error
        await self._redis.set(mark, b"1", ex=SENT_KEPT)
        log.info("%s for %s (%s) sent", kind, event.order_key, event.field)


async def start(
    service: Service, settings: NotifierSettings, mailer: MailSender, clock: Callable[[], datetime] = utc_now
) -> None:
    """Create the topic (the API may not have yet) and run the consumer under the service."""
    await ensure_topics(settings, TOPICS)
    handler = EmailChangeMailer(service.redis, mailer, settings.mail_from, clock)
    group = settings.notifier_group + GROUP_SUFFIX
    service.watch("email_changes", service.consumer("email_changes", handler, group, TOPICS).run())
