"""Squarespace notifications with a secret per subscription: any of the store's verifies, none of another's;
one that names another website is not the store's; an uninstall with no registry to disconnect in is noted."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.platform import Uninstalled
from connectors.squarespace import ADAPTER
from plumbing.config import StoreConfig
from tests.connectors.webhook_app import webhook_client

WEBSITE = "5f3c3d55ac435e1a051f77b3"
SECRETS = {"order.create": "ab" * 32, "order.update": "cd" * 32, "extension.uninstall": "ef" * 32}
STORE = StoreConfig(
    platform="squarespace",
    store_id=WEBSITE,
    merchant_email="m@example.com",
    base_url="https://api.squarespace.com",
    credentials={"access_token": "at", "website_id": WEBSITE, **{f"webhook_secret:{t}": s for t, s in SECRETS.items()}},
)


def notification(topic: str, website: str = WEBSITE, **data: str) -> bytes:
    return json.dumps({"id": "n1", "websiteId": website, "subscriptionId": "s1", "topic": topic, "data": data}).encode()


def signed(body: bytes, secret: str) -> dict[str, str]:
    return {"Squarespace-Signature": hmac.new(bytes.fromhex(secret), body, hashlib.sha256).hexdigest()}


@pytest.mark.parametrize("topic", list(SECRETS))
def test_a_notification_signed_with_any_subscription_secret_of_the_store_verifies(topic: str) -> None:
    body = notification("order.create", orderId="o1")
    ADAPTER.verify_webhook(STORE, httpx.Headers(signed(body, SECRETS[topic])), body)


def test_a_notification_signed_with_no_secret_of_the_store_is_refused() -> None:
    body = notification("order.create", orderId="o1")
    with pytest.raises(InvalidSignatureError):
        ADAPTER.verify_webhook(STORE, httpx.Headers(signed(body, "12" * 32)), body)


def test_a_notification_naming_another_website_is_not_the_stores() -> None:
    body = notification("extension.uninstall", website="000000000000000000000000")
    with pytest.raises(UnreadableWebhookError, match="another website"):
        ADAPTER.read_webhook(STORE, httpx.Headers(signed(body, SECRETS["order.create"])), body)


def test_extension_uninstall_reads_as_uninstalled() -> None:
    body = notification("extension.uninstall", clientId="c")
    assert isinstance(ADAPTER.read_webhook(STORE, httpx.Headers({}), body), Uninstalled)


async def test_an_uninstall_without_a_registry_is_answered_and_publishes_nothing() -> None:
    body = notification("extension.uninstall", clientId="c")
    async with webhook_client(ADAPTER, STORE) as (http, recorded):
        answer = await http.post(
            f"/webhooks/squarespace/{WEBSITE}", content=body, headers=signed(body, SECRETS["extension.uninstall"])
        )
    assert answer.status_code == 200 and answer.text == "uninstall noted"
    assert recorded.sent == [] and recorded.queued == []
