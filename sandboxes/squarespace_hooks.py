"""Squarespace's Webhook Subscriptions API and its notifications, as a connector meets them.

developers.squarespace.com/webhooks/overview and .../commerce-apis/webhook-subscriptions-overview (also
../shared/CONNECTING.md §4.3):
- `POST /1.0/webhook_subscriptions {endpointUrl, topics}` creates one for the website behind the OAuth token
  (API keys are refused) and is the only answer, with `rotateSecret`, that shows its `secret` (hex);
  `GET` lists them (up to 25), `GET|DELETE /{id}`, `POST /{id}/actions/sendTestNotification {topic}`,
  `POST /{id}/actions/rotateSecret`.
- Each notification `{id, websiteId, subscriptionId, topic, createdOn, data}` goes to every subscription of
  its topic, signed `Squarespace-Signature` = hex HMAC-SHA256(hexToBytes(that subscription's secret), body).
- Squarespace "may delete a webhook subscription if multiple requests are unsuccessful", and says nothing
  when it does: here after `FAILURES_TO_DELETE` failed notifications in a row (the number is ours), and at
  once on `POST /_sandbox/subscriptions/delete` (a test's "the platform deleted it").
- `POST /_sandbox/uninstall`: the merchant uninstalls the extension: `extension.uninstall` (`data.clientId`)
  goes to its subscribers, the grant is revoked and the subscriptions go with it (what becomes of them is not
  documented; nothing can be delivered for an app without a grant).

Not faked: the 48-hour retries (a failed notification is counted, not retried) and per-topic scope checks
(`order.*` needs `website.orders[.read]`: every grant here may subscribe). `endpointUrl` may be http, so a
test's loopback connector can subscribe; Squarespace's real one surely wants https.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

SUBSCRIPTIONS = "/1.0/webhook_subscriptions"
TOPICS = frozenset({"order.create", "order.update", "extension.uninstall"})  # the ones faked here
MAX_SUBSCRIPTIONS = 25
FAILURES_TO_DELETE = 5

ErrorAnswer = Callable[[int, str, str], JSONResponse]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signature(secret_hex: str, body: bytes) -> str:
    """.../webhooks/verifying-notifications: HMAC-SHA256 keyed with the hex secret decoded; hex, as its example."""
    return hmac.new(bytes.fromhex(secret_hex), body, hashlib.sha256).hexdigest()


@dataclass
class Subscription:
    id: str
    endpoint_url: str
    topics: list[str]
    secret: str
    created_on: str = field(default_factory=_now)
    updated_on: str = field(default_factory=_now)
    failures: int = 0

    def shown(self, with_secret: bool = False) -> dict[str, Any]:
        shape = {
            "id": self.id,
            "endpointUrl": self.endpoint_url,
            "topics": list(self.topics),
            "createdOn": self.created_on,
            "updatedOn": self.updated_on,
        }
        return {**shape, "secret": self.secret} if with_secret else shape


class CreateSpec(BaseModel):
    endpointUrl: str = Field(max_length=2048)
    topics: list[str] = Field(min_length=1, max_length=len(TOPICS))


class TestSpec(BaseModel):
    topic: str


class DeleteSpec(BaseModel):
    """Which subscriptions the platform deletes, silently: one by id, every one of a topic, or all."""

    id: str | None = None
    topic: str | None = None


class Subscriptions:
    """One website's subscriptions and the notifications sent to them."""

    def __init__(self, website_id: str) -> None:
        self.website_id = website_id
        self.kept: dict[str, Subscription] = {}
        self.sent: list[dict[str, Any]] = []  # every notification: topic, subscription, status
        self.deleted: list[str] = []  # ids the platform deleted on its own
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to its tasks

    def create(self, endpoint_url: str, topics: list[str]) -> Subscription:
        subscription = Subscription(secrets.token_hex(12), endpoint_url, topics, secrets.token_hex(32))
        self.kept[subscription.id] = subscription
        return subscription

    def delete_silently(self, spec: DeleteSpec) -> list[str]:
        gone = [
            s.id
            for s in self.kept.values()
            if (spec.id is None or s.id == spec.id) and (spec.topic is None or spec.topic in s.topics)
        ]
        for subscription_id in gone:
            del self.kept[subscription_id]
        self.deleted += gone
        return gone

    def announce(self, topic: str, data: dict[str, Any]) -> None:
        """Notify every subscriber of `topic`, in the background (the change that caused it has been answered)."""
        if not any(topic in s.topics for s in self.kept.values()):
            return
        task = asyncio.get_running_loop().create_task(self._notified(topic, data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def notify(self, topic: str, data: dict[str, Any]) -> list[int | str]:
        targets = [s for s in list(self.kept.values()) if topic in s.topics]
        return [await self.send(s, topic, data) for s in targets]

    async def _notified(self, topic: str, data: dict[str, Any]) -> None:
        await self.notify(topic, data)

    async def send(self, subscription: Subscription, topic: str, data: dict[str, Any]) -> int | str:
        body = json.dumps(
            {
                "id": secrets.token_hex(12),
                "websiteId": self.website_id,
                "subscriptionId": subscription.id,
                "topic": topic,
                "createdOn": _now(),
                "data": data,
            }
        ).encode()
        headers = {
            "User-Agent": "Squarespace/1.0",
            "Content-Type": "application/json",
            "Squarespace-Signature": signature(subscription.secret, body),
        }
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=5.0)
        status: int | str
        try:
            status = (await self._http.post(subscription.endpoint_url, content=body, headers=headers)).status_code
        except httpx.HTTPError as error:
            status = type(error).__name__
        self.sent.append({"topic": topic, "subscription_id": subscription.id, "data": data, "status": status})
        ok = isinstance(status, int) and 200 <= status < 300
        subscription.failures = 0 if ok else subscription.failures + 1
        if subscription.failures >= FAILURES_TO_DELETE and subscription.id in self.kept:
            del self.kept[subscription.id]
            self.deleted.append(subscription.id)
        return status


def subscription_routes(
    hooks: Subscriptions, is_oauth: Callable[[Request], bool], error: ErrorAnswer, uninstall: Callable[[], str]
) -> APIRouter:
    """The public API (OAuth tokens only) and the `/_sandbox/subscriptions` and `/_sandbox/uninstall` controls;
    `uninstall()` revokes the grant and returns the app's client id."""
    router = APIRouter()

    def refused(request: Request) -> JSONResponse | None:
        if is_oauth(request):
            return None
        return error(
            401, "UNAUTHORIZED", "Webhook subscriptions need an OAuth access token; API keys are not supported"
        )

    @router.get(SUBSCRIPTIONS)
    async def listing(request: Request) -> Response:
        if no := refused(request):
            return no
        return JSONResponse({"webhookSubscriptions": [s.shown() for s in hooks.kept.values()]})

    @router.post(SUBSCRIPTIONS)
    async def create(spec: CreateSpec, request: Request) -> Response:
        if no := refused(request):
            return no
        unknown = sorted(set(spec.topics) - TOPICS)
        if unknown or len(set(spec.topics)) != len(spec.topics):
            return error(400, "INVALID_ARGUMENT", f"topics must be distinct, of {sorted(TOPICS)}")
        if urlsplit(spec.endpointUrl).scheme not in ("http", "https"):
            return error(400, "INVALID_ARGUMENT", "endpointUrl must be an absolute URL")
        if len(hooks.kept) >= MAX_SUBSCRIPTIONS:
            return error(400, "INVALID_ARGUMENT", f"a website has at most {MAX_SUBSCRIPTIONS} subscriptions")
        return JSONResponse(hooks.create(spec.endpointUrl, spec.topics).shown(with_secret=True))

    @router.get(SUBSCRIPTIONS + "/{subscription_id}")
    async def one(subscription_id: str, request: Request) -> Response:
        if no := refused(request):
            return no
        kept = hooks.kept.get(subscription_id)
        return JSONResponse(kept.shown()) if kept else error(404, "NOT_FOUND", "no such subscription")

    @router.delete(SUBSCRIPTIONS + "/{subscription_id}")
    async def delete(subscription_id: str, request: Request) -> Response:
        if no := refused(request):
            return no
        if hooks.kept.pop(subscription_id, None) is None:
            return error(404, "NOT_FOUND", "no such subscription")
        return Response(status_code=204)

    @router.post(SUBSCRIPTIONS + "/{subscription_id}/actions/sendTestNotification")
    async def test(subscription_id: str, spec: TestSpec, request: Request) -> Response:
        if no := refused(request):
            return no
        kept = hooks.kept.get(subscription_id)
        if kept is None:
            return error(404, "NOT_FOUND", "no such subscription")
        if spec.topic not in kept.topics:
            return error(400, "INVALID_ARGUMENT", f"the subscription has no topic {spec.topic}")
        data = {"orderId": secrets.token_hex(12)} if spec.topic.startswith("order.") else {}
        return JSONResponse({"statusCode": await hooks.send(kept, spec.topic, data)})

    @router.post(SUBSCRIPTIONS + "/{subscription_id}/actions/rotateSecret")
    async def rotate(subscription_id: str, request: Request) -> Response:
        if no := refused(request):
            return no
        kept = hooks.kept.get(subscription_id)
        if kept is None:
            return error(404, "NOT_FOUND", "no such subscription")
        kept.secret, kept.updated_on = secrets.token_hex(32), _now()
        return JSONResponse(kept.shown(with_secret=True))

    @router.get("/_sandbox/subscriptions")
    async def seen() -> dict[str, Any]:
        return {
            "subscriptions": [s.shown() for s in hooks.kept.values()],
            "sent": hooks.sent,
            "deleted": hooks.deleted,
        }

    @router.post("/_sandbox/subscriptions/delete")
    async def delete_silently(spec: DeleteSpec) -> dict[str, Any]:
        return {"deleted": hooks.delete_silently(spec)}

    @router.post("/_sandbox/uninstall")
    async def uninstalled() -> dict[str, Any]:
        statuses = await hooks.notify("extension.uninstall", {"clientId": uninstall()})
        hooks.kept.clear()
        return {"statuses": statuses}

    return router
