"""The scheduler and outbox on the in-memory twin: a link's week in milliseconds, no Redis, broker or SMTP server.

The same stories as `test_outbox.py` tells against the real servers, told
on `MemoryLinkStore`, a producer that keeps what it is given, and memory mail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifier.intake import record_request, record_status
from notifier.mail import MemorySender
from notifier.memory_store import MemoryLinkStore
from notifier.outbox import Outbox
from notifier.render import EmailRenderer
from notifier.scheduler import LinkScheduler
from notifier.set_aside import MemorySetAside
from schemas import (
    OrderStatus,
    PersonalizationLinkExpired,
    PersonalizationLinkIssued,
    PersonalizationReminderSent,
    PersonalizationRequested,
)
from tests.notifier.doubles import BrokerDown, KeptProducer
from tests.notifier.helpers import request, status

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class Week:
    def __init__(self) -> None:
        self.now = T0
        self.store, self.mail, self.producer = MemoryLinkStore(), MemorySender(), KeptProducer()
        outbox = Outbox(
            self.store, self.producer, self.mail, EmailRenderer(), mail_from="P <p@example.com>", clock=self.clock
        )
        self.parked = MemorySetAside()
        self.scheduler = LinkScheduler(
            self.store,
            outbox,
            public_url="https://p.example",
            link_ttl=7 * DAY,
            clock=self.clock,
            set_aside=self.parked,
        )

    def clock(self) -> datetime:
        return self.now

    async def at(self, moment: datetime, order_key: str) -> None:
        self.now = moment
        await self.scheduler.act(order_key)

    async def linked(self, wanted: PersonalizationRequested) -> PersonalizationLinkIssued:
        """The request taken in and its first link issued and emailed, at once."""
        await record_request(self.store, wanted, wanted.occurred_at)
        await self.at(wanted.notify_after, wanted.order_key)
        return self.producer.of(PersonalizationLinkIssued)[-1]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.mail.sent]


async def test_a_week_of_reminders_then_a_reissue_then_silence_after_completion():
    week = Week()
    wanted = request(0, at=T0, reminders=[3 * DAY, 6 * DAY])
    key, link = wanted.order_key, await week.linked(wanted)
    assert await week.store.timers.due_at(key) == T0 + 3 * DAY
    await week.at(T0 + 3 * DAY, key)
    await week.at(T0 + 6 * DAY + timedelta(hours=1), key)
    assert [e.reminder for e in week.producer.of(PersonalizationReminderSent)] == [1, 2]
    assert await week.store.timers.due_at(key) == link.expires_at
    await week.at(T0 + 7 * DAY, key)
    (expired,) = week.producer.of(PersonalizationLinkExpired)
    assert (expired.link_id, expired.expired_at) == (link.link_id, link.expires_at)
    assert [e.sequence for e in week.producer.of(PersonalizationLinkIssued)] == [1, 2]
    assert ["reminder" in s for s in week.subjects()] == [False, True, True, False]
    assert "new personalization link" in week.subjects()[3]

    await record_status(week.store, status(key, OrderStatus.PENDING_APPROVAL, at=T0 + 8 * DAY), T0 + 8 * DAY)
    await week.at(T0 + 10 * DAY, key)
    assert len(week.mail.sent) == 4 and await week.store.timers.due_at(key) is None


async def test_a_reminder_emailed_while_the_broker_is_away_is_announced_once_after_completion():
    week = Week()
    wanted = request(0, at=T0, reminders=[3 * DAY])
    key, link = wanted.order_key, await week.linked(wanted)
    week.producer.down = True
    with pytest.raises(BrokerDown):
        await week.at(T0 + 3 * DAY, key)
    await record_status(week.store, status(key, OrderStatus.PENDING_APPROVAL, at=T0 + 4 * DAY), T0 + 4 * DAY)
    state = await week.store.state(key)
    (kept,) = state.outbox
    assert kept.kind == "reminder" and link.url not in str(state.outbox_as_stored)  # the event, not the token
    assert await week.store.timers.due_at(key) is not None
    week.producer.down = False
    await week.at(T0 + 4 * DAY, key)
    (sent,) = week.producer.of(PersonalizationReminderSent)
    assert (sent.reminder, sent.occurred_at) == (1, T0 + 3 * DAY)
    await week.at(T0 + 5 * DAY, key)
    assert len(week.mail.sent) == 2 and await week.store.timers.due_at(key) is None


async def test_a_resent_link_takes_over_the_reminders_and_the_replaced_one_gets_none():
    week = Week()
    wanted = request(0, at=T0, reminders=[2 * DAY])
    key = wanted.order_key
    await week.linked(wanted)
    resend = request(0, number=wanted.order_number, trigger="resend_requested", at=T0 + DAY, reminders=[2 * DAY])
    await record_request(week.store, resend, T0 + DAY)
    assert await week.store.timers.due_at(key) == T0 + DAY
    await week.at(T0 + DAY, key)
    _, second = week.producer.of(PersonalizationLinkIssued)
    assert week.producer.of(PersonalizationLinkExpired) == []  # replaced, not expired
    await week.at(T0 + 2 * DAY, key)  # the first link's reminder time: nothing
    await week.at(T0 + 3 * DAY, key)
    (reminded,) = week.producer.of(PersonalizationReminderSent)
    assert (reminded.link_id, reminded.sequence) == (second.link_id, 2) and len(week.mail.sent) == 3


async def test_a_cancelled_order_gets_no_email_and_leaves_the_timer():
    week = Week()
    wanted = request(15 * 60, at=T0)
    key = wanted.order_key
    await record_request(week.store, wanted, T0)
    await record_status(week.store, status(key, OrderStatus.CANCELLED, at=T0 + timedelta(minutes=1)), T0)
    assert await week.store.timers.due_at(key) is None
    await week.at(T0 + DAY, key)
    assert week.mail.sent == [] and week.producer.events == []


async def test_an_smtp_outage_keeps_the_link_and_retries_with_backoff():
    week = Week()
    wanted = request(0, at=T0)
    key = wanted.order_key
    week.mail.failing = True
    await week.linked(wanted)
    retry_at = await week.store.timers.due_at(key)
    assert retry_at is not None and T0 < retry_at <= T0 + timedelta(seconds=2)
    assert (await week.store.state(key)).smtp_failures == 1
    week.mail.failing = False
    await week.at(retry_at, key)
    assert len(week.mail.sent) == 1 and len(week.producer.of(PersonalizationLinkIssued)) == 1
    assert (await week.store.state(key)).smtp_failures == 0
