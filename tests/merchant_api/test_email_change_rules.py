"""The pending address changes against a real Redis, on a clock the test moves: what confirms, what is refused.

(The whole flow, the API and the notifier as processes and the link from the mailbox, is test_email_change.py.)
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from merchant_api.email_change import (
    CONFIRM_WITHIN,
    PREFIX,
    EmailChangeRefused,
    EmailChanges,
    addresses_to_confirm,
)
from plumbing.config import StoreSettings
from tests.builders import T0
from tests.support import unique_id


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def settings(**changes: object) -> StoreSettings:
    return StoreSettings.model_validate({"merchant_email": "shop@example.com", **changes})


def test_only_an_address_nobody_confirmed_waits():
    current = settings(reply_to="help@example.com")
    assert addresses_to_confirm(current, settings(merchant_email="thief@example.net")) == {
        "merchant_email": "thief@example.net"
    }
    assert addresses_to_confirm(current, settings(reply_to="thief@example.net")) == {"reply_to": "thief@example.net"}
    assert addresses_to_confirm(current, settings(locale="de", reply_to="help@example.com")) == {}
    assert addresses_to_confirm(current, settings(reply_to=None)) == {}  # removing a Reply-To sends nothing anywhere
    # Addresses the store already proved (its merchant_email, its Reply-To) may swap places without a new proof.
    assert addresses_to_confirm(current, settings(merchant_email="help@example.com", reply_to="shop@example.com")) == {}


async def test_the_token_is_stored_only_as_its_sha256(redis):
    store = f"woocommerce:{unique_id()}"
    token, _ = await EmailChanges(redis).request(store, "merchant_email", "new@example.com")
    stored = (await redis.get(f"{PREFIX}{store}:merchant_email")).decode()
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
    assert len(token) >= 43  # 32 bytes from secrets, URL-safe base64
    assert 0 < await redis.ttl(f"{PREFIX}{store}:merchant_email") <= CONFIRM_WITHIN.total_seconds()


async def test_a_changed_address_link_works_once_and_a_reused_token_is_refused(redis):
    store, clock = f"woocommerce:{unique_id()}", Clock()
    changes = EmailChanges(redis, clock)
    token, _ = await changes.request(store, "merchant_email", "new@example.com")
    assert (await changes.check(store, "merchant_email", token)).address == "new@example.com"  # asking takes nothing
    change = await changes.confirm(store, "merchant_email", token)
    assert (change.field, change.address) == ("merchant_email", "new@example.com")
    with pytest.raises(EmailChangeRefused, match="no change waits"):
        await changes.check(store, "merchant_email", token)
    with pytest.raises(EmailChangeRefused, match="no change waits"):
        await changes.confirm(store, "merchant_email", token)


async def test_a_changed_address_link_past_24_hours_is_refused(redis):
    store, clock = f"woocommerce:{unique_id()}", Clock()
    changes = EmailChanges(redis, clock)
    token, expires_at = await changes.request(store, "reply_to", "new@example.com")
    assert expires_at == T0 + timedelta(hours=24)
    clock.now = expires_at
    with pytest.raises(EmailChangeRefused, match="expired"):
        await changes.confirm(store, "reply_to", token)


async def test_a_wrong_token_for_a_changed_address_is_refused_and_the_right_one_still_works(redis):
    store = f"woocommerce:{unique_id()}"
    changes = EmailChanges(redis, Clock())
    token, _ = await changes.request(store, "merchant_email", "new@example.com")
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 43):
        with pytest.raises(EmailChangeRefused, match="not the one sent"):
            await changes.confirm(store, "merchant_email", wrong)
    with pytest.raises(EmailChangeRefused):  # another field's link is not this one's
        await changes.confirm(store, "reply_to", token)
    with pytest.raises(EmailChangeRefused):  # nor another store's
        await changes.confirm(store + "-other", "merchant_email", token)
    assert (await changes.confirm(store, "merchant_email", token)).address == "new@example.com"


async def test_a_newer_change_replaces_the_older_link(redis):
    store = f"woocommerce:{unique_id()}"
    changes = EmailChanges(redis, Clock())
    first, _ = await changes.request(store, "merchant_email", "one@example.com")
    second, _ = await changes.request(store, "merchant_email", "two@example.com")
    with pytest.raises(EmailChangeRefused):
        await changes.confirm(store, "merchant_email", first)
    assert (await changes.confirm(store, "merchant_email", second)).address == "two@example.com"
