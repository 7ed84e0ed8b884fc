"""Squarespace notifications with a secret per subscription: any of the store's verifies, none of another's;
one that names another website is not the store's; an uninstall disconnects once, and with no registry to
disconnect in is only noted."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import cast

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.platform import Uninstalled
from connectors.squarespace import ADAPTER
from connectors.stores import Sealer, StoreNotConnected, new_key
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.memory import MemoryStoreRegistry
from connectors.webhooks import make_app
from plumbing.config import StoreConfig
from schemas import StoreConnected, StoreDisconnected
from tests.connectors.webhook_app import Recorded, webhook_client

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


async def test_a_repeated_uninstall_disconnects_once() -> None:
    # Squarespace delivers at least once: a second copy of the uninstall must not announce (and mail) it again.
    registry, published = MemoryStoreRegistry(Sealer([new_key()])), []

    async def publish(events) -> None:
        published.extend(events)

    lifecycle = StoreLifecycle(registry, publish)
    credentials = {**STORE.credentials}
    await lifecycle.connect(
        "squarespace", WEBSITE, "m@example.com", credentials, {"base_url": "https://api.squarespace.com"}
    )
    recorded = Recorded()
    intake = Intake(ADAPTER, cast(AIOKafkaProducer, recorded), cast(Redis, None))
    app = make_app(ADAPTER, {WEBSITE: STORE}, intake, cast(ThinFetcher, recorded), disconnect=lifecycle.disconnect)
    body = notification("extension.uninstall", clientId="c")
    headers = signed(body, SECRETS["extension.uninstall"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://connector") as http:
        first = await http.post(f"/webhooks/squarespace/{WEBSITE}", content=body, headers=headers)
        again = await http.post(f"/webhooks/squarespace/{WEBSITE}", content=body, headers=headers)
    assert first.status_code == 200 and first.text == "store disconnected"
    assert again.status_code == 404
    assert [type(e) for e in published] == [StoreConnected, StoreDisconnected]
    with pytest.raises(StoreNotConnected):
        await registry.credentials("squarespace", WEBSITE)
