"""What the notifier's tests share: requests as core sends them, links and outbox entries, waiting for mails."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from devstack.mailcatcher import MailCatcher
from notifier.entries import EmailedReminder, LinkEntry, QueuedReminder
from notifier.store import LinkStore
from schemas import (
    Event,
    LinkDelivery,
    OrderStatus,
    OrderStatusChanged,
    PersonalizationLinkIssued,
    PersonalizationReminderSent,
    PersonalizationRequested,
    RequestedItem,
    utc_now,
)
from tests.builders import load_test_config
from tests.support import Recorder, unique_id

TEMPLATE = load_test_config().template("name-mug")


def request(
    delay_s: float = 1.0,
    *,
    number: str | None = None,
    trigger: str = "order_received",
    at: datetime | None = None,
    platform: str = "woocommerce",
    **delivery: object,
) -> PersonalizationRequested:
    number = number or unique_id()
    now = at or datetime.now(UTC)
    return PersonalizationRequested(
        order_key=f"{platform}:shop-manual:{number}",
        occurred_at=now,
        store_id="shop-manual",
        platform=platform,
        order_number=number,
        merchant_email="manual@example.com",
        received_at=now,
        notify_after=now + timedelta(seconds=delay_s),
        trigger=trigger,
        delivery=LinkDelivery(**{"reminders": [], **delivery}),
        items=[RequestedItem(line_id="L1", title="Name mug <b>XL</b>", quantity=2, template=TEMPLATE)],
    )


def status(
    order_key: str,
    to: OrderStatus,
    frm: OrderStatus = OrderStatus.PENDING_PERSONALIZATION,
    *,
    at: datetime | None = None,
) -> OrderStatusChanged:
    """A status change as core sends it: now, or `at`."""
    return OrderStatusChanged(
        order_key=order_key, occurred_at=at or utc_now(), from_status=frm, to_status=to, reason="test"
    )


def mails_for(mail: MailCatcher, number: str) -> list:
    return [m for m in mail.messages if re.search(rf"\b{number}\b", m["Subject"])]


async def wait_mails(mail: MailCatcher, number: str, count: int, timeout: float = 20.0) -> list:  # noqa: ASYNC109 - a polling deadline, not a cancel scope
    deadline = asyncio.get_running_loop().time() + timeout
    while len(mails_for(mail, number)) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(mails_for(mail, number))} mails for {number}"
        await asyncio.sleep(0.1)
    return mails_for(mail, number)


def links(recorder: Recorder, order_key: str) -> list[PersonalizationLinkIssued]:
    return [e for e in recorder.events(order_key) if isinstance(e, PersonalizationLinkIssued)]


async def wait_links(recorder: Recorder, order_key: str, count: int) -> list[PersonalizationLinkIssued]:
    await recorder.wait_for(order_key, lambda es: sum(isinstance(e, PersonalizationLinkIssued) for e in es) >= count)
    return links(recorder, order_key)


def distinct(recorder: Recorder, order_key: str, event_type: type[Event]) -> list:
    """Each event once, in publishing order: a re-publish after a crash repeats an event id, never makes a new one."""
    seen: dict[str, Event] = {}
    for event in recorder.events(order_key, event_type):
        seen.setdefault(event.event_id, event)
    return list(seen.values())


def issued(
    wanted: PersonalizationRequested,
    *,
    sequence: int = 1,
    at: datetime | None = None,
    ttl: timedelta = timedelta(days=7),
) -> PersonalizationLinkIssued:
    """The link the notifier would issue for `wanted` at `at`, token and all."""
    at = at or wanted.notify_after
    return PersonalizationLinkIssued(
        order_key=wanted.order_key,
        occurred_at=at,
        link_id=f"link-{sequence}-{unique_id()}",
        url=f"https://p.example/p/token-{unique_id()}",
        expires_at=at + ttl,
        sequence=sequence,
        merchant_email=wanted.merchant_email,
        store_id=wanted.store_id,
        platform=wanted.platform,
        order_number=wanted.order_number,
        items=wanted.items,
    )


def link_entry(link: PersonalizationLinkIssued, delivery: LinkDelivery | None = None) -> LinkEntry:
    return LinkEntry(
        id=link.link_id, link_id=link.link_id, sequence=link.sequence, event=link, delivery=delivery or LinkDelivery()
    )


def queued_reminder(link: PersonalizationLinkIssued, number: int = 1) -> QueuedReminder:
    return QueuedReminder(
        id=f"{link.link_id}:reminder-{number}",
        sequence=link.sequence,
        reminder=number,
        link=link,
        delivery=LinkDelivery(),
    )


def emailed_reminder(link: PersonalizationLinkIssued, number: int = 1) -> EmailedReminder:
    sent = PersonalizationReminderSent(
        order_key=link.order_key,
        occurred_at=link.occurred_at,
        link_id=link.link_id,
        sequence=link.sequence,
        store_id=link.store_id,
        platform=link.platform,
        order_number=link.order_number,
        reminder=number,
        recipient="merchant",
        expires_at=link.expires_at,
    )
    return queued_reminder(link, number).emailed(sent)


async def held(store: LinkStore, order_key: str, now: datetime, owner: str = "test-copy") -> str:
    """The fence of the claim on the order's timer (taken now if there is none): what a scheduler copy writes under."""
    holding = await store.timers.holder(order_key)
    if holding is not None:
        return holding
    claim = await store.timers.take(order_key, now, 60.0, owner)
    assert claim is not None, f"{order_key} is held by another copy"
    return claim.fence
