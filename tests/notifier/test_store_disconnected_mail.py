"""The merchant hears once that their store was disconnected: redelivered or announced again, one email; a
later disconnection of the same store, another."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiokafka import ConsumerRecord
from redis.asyncio import Redis

from notifier.disconnections import DisconnectionMailer
from notifier.mail import MemorySender
from plumbing.consumer import INFRASTRUCTURE_ERRORS, Received
from schemas import StoreConnected, StoreDisconnected
from tests.builders import T0
from tests.support import unique_id

FROM = "Personalize <noreply@personalize.example>"


def disconnected(store_id: str, **fields: object) -> StoreDisconnected:
    return StoreDisconnected.model_validate(
        {
            "order_key": f"bigcommerce:{store_id}",
            "platform": "bigcommerce",
            "store_id": store_id,
            "reason": "the app was uninstalled in BigCommerce",
            "merchant_email": "maker@example.com",
            "disconnected_at": T0,
            **fields,
        }
    )


def received(*events: object) -> list[Received]:
    return [
        Received(ConsumerRecord("stores", 0, n, 0, 0, None, b"", None, 0, 0, []), event)
        for n, event in enumerate(events)
    ]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_the_merchant_is_told_once_what_happened_and_what_it_means(redis):
    sender, store_id = MemorySender(), f"s-{unique_id()}"
    mailer = DisconnectionMailer(redis, sender, FROM)
    event = disconnected(store_id, reason="<b>revoked</b> in the store's admin")
    await mailer(received(event))
    (message,) = [message_from_bytes(m.as_bytes(), policy=policy.default) for m in sender.sent]
    assert message["To"] == "maker@example.com" and store_id in message["Subject"]
    text, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    assert "<b>revoked</b> in the store's admin" in text and "not read" in text
    assert "&lt;b&gt;revoked&lt;/b&gt;" in html and "<b>revoked" not in html  # autoescaped


async def test_a_redelivery_or_a_second_announcement_sends_nothing_and_a_new_disconnection_does(redis):
    sender, store_id = MemorySender(), f"s-{unique_id()}"
    mailer = DisconnectionMailer(redis, sender, FROM)
    first = disconnected(store_id)
    announced_again = disconnected(store_id, reason="uninstalled, the webhook delivered twice")  # a new event id
    await mailer(received(first, first))
    await mailer(received(announced_again))
    assert len(sender.sent) == 1
    await mailer(received(disconnected(store_id, disconnected_at=T0 + timedelta(days=3))))  # connected again, then
    assert len(sender.sent) == 2


async def test_other_store_events_and_a_disconnection_with_no_address_send_nothing(redis):
    sender, store_id = MemorySender(), f"s-{unique_id()}"
    mailer = DisconnectionMailer(redis, sender, FROM)
    connected = StoreConnected(
        order_key=f"bigcommerce:{store_id}", platform="bigcommerce", store_id=store_id, merchant_email="m@example.com"
    )
    await mailer(received(connected, disconnected(store_id, merchant_email=None)))
    assert sender.sent == []


async def test_a_mail_server_outage_is_waited_out_and_then_the_email_goes_once(redis):
    sender, event = MemorySender(failing=True), disconnected(f"s-{unique_id()}")
    mailer = DisconnectionMailer(redis, sender, FROM)
    with pytest.raises(INFRASTRUCTURE_ERRORS):  # the consumer rewinds the batch and retries it
        await mailer(received(event))
    sender.failing = False
    await mailer(received(event))
    await mailer(received(event))
    assert len(sender.sent) == 1
