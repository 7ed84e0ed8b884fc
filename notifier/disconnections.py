"""The email that tells a merchant their store was disconnected, once per disconnection.

A connector disconnects a store when the merchant uninstalls our app or the platform refuses its grant
(`connectors.stores.lifecycle`), and says so on `stores` with `StoreDisconnected`. Orders placed from then
on are not read, so the merchant must hear it, once: the event may be delivered again, and announced again
for a store already disconnected, but it carries the registry's `disconnected_at`, the same on every
announcement, and the mark `notifier:store-disconnected-sent:<store>:<disconnected_at>` sends nothing twice.
A store connected and disconnected again is a new disconnection, and gets its email.

Its own consumer group, as the email-change mails: an SMTP outage is waited out (the batch rewinds), never a
dead letter, and never holds up the links' emails. An event without `merchant_email` (published before the
field existed) has no one to tell. Not translated yet: English for every store (`docs/emails.md`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from redis.asyncio import Redis

from notifier.mail import MailError, MailSender
from notifier.render import RenderedEmail, plain_email
from notifier.settings import NotifierSettings
from plumbing.consumer import Outcome, Received
from plumbing.kafka import ensure_topics
from plumbing.service import Service
from schemas import STORES, StoreDisconnected

log = logging.getLogger(__name__)

GROUP_SUFFIX = "-stores"  # after PERSONALIZE_NOTIFIER_GROUP: `notifier-stores` by default
TOPICS = (STORES,)
SENT_PREFIX = "notifier:store-disconnected-sent:"
SENT_KEPT = timedelta(days=30)  # past the topic's retention: a replay from the start still finds the mark
KIND = "store_disconnected"


def render(event: StoreDisconnected, to: str) -> RenderedEmail:
    context = {"event": event, "store": event.order_key, "platform": event.platform.capitalize()}
    return plain_email(KIND, context, to, event.event_id)


class DisconnectionMailer:
    """Consumer handler of `stores`: one email to the merchant per disconnection; the other events pass."""

    def __init__(self, redis: Redis, mailer: MailSender, mail_from: str) -> None:
        self._redis, self._mailer, self._from = redis, mailer, mail_from

    async def __call__(self, batch: list[Received]) -> Outcome:
        for item in batch:
            event = item.event
            if isinstance(event, StoreDisconnected) and event.merchant_email is not None:
                await self._send(event, event.merchant_email)
        return Outcome()

    async def _send(self, event: StoreDisconnected, to: str) -> None:
        moment = (event.disconnected_at or event.occurred_at).isoformat()
        mark = f"{SENT_PREFIX}{event.order_key}:{moment}"
        if await self._redis.exists(mark):
            return
        try:
            await self._mailer.send(render(event, to).message(self._from))
        except MailError as error:  # an outage to wait out (the consumer rewinds), never a dead letter
            raise ConnectionError(f"mail server unavailable for {KIND}: {error}") from error
        await self._redis.set(mark, b"1", ex=SENT_KEPT)
        log.info("%s: the merchant was told of the disconnection", event.order_key)


async def start(service: Service, settings: NotifierSettings, mailer: MailSender) -> None:
    """Create the topic (no connector may have yet) and run the consumer under the service."""
    await ensure_topics(settings, TOPICS)
    handler = DisconnectionMailer(service.redis, mailer, settings.mail_from)
    group = settings.notifier_group + GROUP_SUFFIX
    service.watch("disconnections", service.consumer("disconnections", handler, group, TOPICS).run())
