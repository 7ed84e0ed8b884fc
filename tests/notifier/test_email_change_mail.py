"""The emails of a changed store address: the link to the new address, a notice to the one in effect, once each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiokafka import ConsumerRecord
from redis.asyncio import Redis

from notifier.automation import HOOK_TOPICS
from notifier.mail import MemorySender
from notifier.verification import EmailChangeMailer
from plumbing.consumer import INFRASTRUCTURE_ERRORS, Received
from schemas import DELIVERABLE_EVENTS, STORES_EMAIL_CHANGES, MerchantEmailChangeRequested
from tests.builders import T0

URL = "https://api.example.com/stores/woocommerce:shop-manual/settings/email-change/merchant_email/" + "t" * 43


def change(**fields: object) -> MerchantEmailChangeRequested:
    return MerchantEmailChangeRequested(
        **{
            "order_key": "woocommerce:shop-manual",
            "platform": "woocommerce",
            "store_id": "shop-manual",
            "field": "merchant_email",
            "new_address": "new@example.com",
            "current_address": "old@example.com",
            "confirm_url": URL,
            "expires_at": T0 + timedelta(hours=24),
            "sender_name": "Mugs & Co",
            **fields,
        }
    )


def received(event: MerchantEmailChangeRequested) -> Received:
    record = ConsumerRecord("stores.email-changes", 0, 0, 0, 0, None, b"", None, 0, 0, [])
    return Received(record, event)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def parsed(sender: MemorySender, n: int):
    return message_from_bytes(sender.sent[n].as_bytes(), policy=policy.default)


async def test_the_new_address_gets_the_link_and_the_old_one_a_notice_without_it(redis):
    sender = MemorySender()
    mailer = EmailChangeMailer(redis, sender, "Personalize <noreply@personalize.example>", lambda: T0)
    await mailer([received(change(store_id="shop-<b>manual</b>", order_key="woocommerce:shop-<b>manual</b>"))])
    confirm, notice = parsed(sender, 0), parsed(sender, 1)
    assert confirm["To"] == "new@example.com" and notice["To"] == "old@example.com"
    assert confirm["From"].addresses[0].display_name == "Mugs & Co"
    text, html = confirm.get_body(("plain",)).get_content(), confirm.get_body(("html",)).get_content()
    assert URL in text and f'href="{URL}"' in html
    assert "shop-&lt;b&gt;manual&lt;/b&gt;" in html and "<b>manual" not in html  # autoescaped
    notice_text = notice.get_body(("plain",)).get_content() + notice.get_body(("html",)).get_content()
    assert "new@example.com" in notice_text and "t" * 43 not in notice_text  # the old address never gets the link


async def test_a_redelivered_change_mails_nothing_twice(redis):
    sender, event = MemorySender(), change()
    mailer = EmailChangeMailer(redis, sender, "noreply@personalize.example", lambda: T0)
    await mailer([received(event)])
    await mailer([received(event)])
    assert len(sender.sent) == 2


async def test_a_mail_server_outage_is_waited_out_not_dead_lettered(redis):
    sender, event = MemorySender(failing=True), change()
    mailer = EmailChangeMailer(redis, sender, "noreply@personalize.example", lambda: T0)
    with pytest.raises(INFRASTRUCTURE_ERRORS):  # the consumer rewinds the batch and retries it
        await mailer([received(event)])
    sender.failing = False
    await mailer([received(event)])
    assert [m["To"] for m in sender.sent] == ["new@example.com", "old@example.com"]


async def test_an_expired_change_mails_nothing(redis):
    sender = MemorySender()
    mailer = EmailChangeMailer(redis, sender, "noreply@personalize.example", lambda: T0 + timedelta(days=2))
    await mailer([received(change())])
    assert sender.sent == []


def test_the_email_change_with_its_link_is_never_offered_to_automation_webhooks():
    assert STORES_EMAIL_CHANGES not in HOOK_TOPICS
    assert "MerchantEmailChangeRequested" not in DELIVERABLE_EVENTS
