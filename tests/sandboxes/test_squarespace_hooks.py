"""The Squarespace sandbox's Webhook Subscriptions API as a connector meets it: OAuth tokens only, the secret
shown once, notifications signed with each subscription's own secret, subscriptions deleted after repeated
failures (silently), and `extension.uninstall` on an uninstall."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from starlette.requests import Request
from starlette.responses import Response

from sandboxes.squarespace_hooks import FAILURES_TO_DELETE, MAX_SUBSCRIPTIONS
from tests.connectors.squarespace_stack import API_KEY, CLIENT_ID, WEBSITE_ID, Site, grant, squarespace_site
from tests.support import InProcessServer

HOOKS = "/1.0/webhook_subscriptions"


class Receiver:
    """An endpoint that records what it is sent and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        self.received.append((dict(request.headers), await request.body()))
        await Response(status_code=self.status)(scope, receive, send)


@asynccontextmanager
async def subscribed(status: int = 200) -> AsyncIterator[tuple[Site, dict[str, str], Receiver, str]]:
    receiver, server = Receiver(status), InProcessServer()
    await server.start(receiver)
    try:
        async with squarespace_site() as site:
            token = (await grant(site))["access_token"]
            yield site, {"Authorization": f"Bearer {token}", "User-Agent": "tests/1.0"}, receiver, server.url + "/hooks"
    finally:
        await server.stop()


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = hmac.new(bytes.fromhex(secret), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["squarespace-signature"], expected)


async def test_an_api_key_cannot_manage_subscriptions() -> None:
    async with subscribed() as (site, _, _, url):
        key = {"Authorization": f"Bearer {API_KEY}", "User-Agent": "tests/1.0"}
        refused = await site.http.post(HOOKS, json={"endpointUrl": url, "topics": ["order.create"]}, headers=key)
        assert refused.status_code == 401 and "OAuth" in refused.json()["message"]
        assert (await site.http.get(HOOKS, headers=key)).status_code == 401


async def test_the_secret_is_shown_by_create_only_and_signs_that_subscriptions_notifications() -> None:
    async with subscribed() as (site, auth, receiver, url):
        made = (await site.http.post(HOOKS, json={"endpointUrl": url, "topics": ["order.create"]}, headers=auth)).json()
        other = (
            await site.http.post(HOOKS, json={"endpointUrl": url, "topics": ["order.update"]}, headers=auth)
        ).json()
        assert re.fullmatch(r"[0-9a-f]{64}", made["secret"]) and made["secret"] != other["secret"]
        listed = (await site.http.get(HOOKS, headers=auth)).json()["webhookSubscriptions"]
        assert {s["id"] for s in listed} == {made["id"], other["id"]} and all("secret" not in s for s in listed)
        assert "secret" not in (await site.http.get(f"{HOOKS}/{made['id']}", headers=auth)).json()
        test = f"{HOOKS}/{made['id']}/actions/sendTestNotification"
        assert (await site.http.post(test, json={"topic": "order.create"}, headers=auth)).json() == {"statusCode": 200}
        headers, body = receiver.received[-1]
        sent = json.loads(body)
        assert sent["topic"] == "order.create" and sent["websiteId"] == WEBSITE_ID
        assert sent["subscriptionId"] == made["id"] and signature_ok(made["secret"], headers, body)
        assert not signature_ok(other["secret"], headers, body)
        rotated = (await site.http.post(f"{HOOKS}/{made['id']}/actions/rotateSecret", headers=auth)).json()
        await site.http.post(test, json={"topic": "order.create"}, headers=auth)
        assert signature_ok(rotated["secret"], *receiver.received[-1])
        assert (await site.http.delete(f"{HOOKS}/{made['id']}", headers=auth)).status_code == 204
        assert (await site.http.delete(f"{HOOKS}/{made['id']}", headers=auth)).status_code == 404


@pytest.mark.parametrize(
    "topics", [["order.paid"], [], ["order.create", "order.create"]], ids=["unknown", "none", "twice"]
)
async def test_bad_topics_are_refused(topics: list[str]) -> None:
    async with subscribed() as (site, auth, _, url):
        answer = await site.http.post(HOOKS, json={"endpointUrl": url, "topics": topics}, headers=auth)
        assert answer.status_code in (400, 422)


async def test_a_website_has_at_most_25_subscriptions() -> None:
    async with subscribed() as (site, auth, _, url):
        for _ in range(MAX_SUBSCRIPTIONS):
            made = await site.http.post(HOOKS, json={"endpointUrl": url, "topics": ["order.create"]}, headers=auth)
            assert made.status_code == 200
        extra = await site.http.post(HOOKS, json={"endpointUrl": url, "topics": ["order.create"]}, headers=auth)
        assert extra.status_code == 400


async def test_placed_orders_notify_subscribers_and_failing_ones_are_deleted_silently() -> None:
    async with subscribed(status=500) as (site, auth, receiver, url):
        made = (await site.http.post(HOOKS, json={"endpointUrl": url, "topics": ["order.create"]}, headers=auth)).json()
        for _ in range(FAILURES_TO_DELETE):
            await site.http.post("/_sandbox/orders", json={})
        for _ in range(250):
            if made["id"] in (await site.http.get("/_sandbox/subscriptions")).json()["deleted"]:
                break
            await asyncio.sleep(0.02)
        assert len(receiver.received) == FAILURES_TO_DELETE
        assert (await site.http.get(HOOKS, headers=auth)).json()["webhookSubscriptions"] == []
        await site.http.post("/_sandbox/orders", json={})
        await asyncio.sleep(0.1)
        assert len(receiver.received) == FAILURES_TO_DELETE  # nobody is told any more


async def test_an_uninstall_notifies_its_subscribers_and_revokes_the_grant() -> None:
    async with subscribed() as (site, auth, receiver, url):
        made = (
            await site.http.post(HOOKS, json={"endpointUrl": url, "topics": ["extension.uninstall"]}, headers=auth)
        ).json()
        await site.http.post(HOOKS, json={"endpointUrl": url, "topics": ["order.create"]}, headers=auth)
        assert (await site.http.post("/_sandbox/uninstall")).json() == {"statuses": [200]}
        headers, body = receiver.received[-1]
        assert json.loads(body)["topic"] == "extension.uninstall" and json.loads(body)["data"] == {
            "clientId": CLIENT_ID
        }
        assert signature_ok(made["secret"], headers, body) and len(receiver.received) == 1
        assert (await site.http.get(HOOKS, headers=auth)).status_code == 401  # the token died with the grant
        assert (await site.http.get("/_sandbox/subscriptions")).json()["subscriptions"] == []
