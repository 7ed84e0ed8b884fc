"""Wix webhooks: the whole body is a JWT signed RS256 with Wix's key for the app; the order sits three layers deep.

Layers (https://dev.wix.com/docs/rest/articles/get-started/webhook-structure):
the JWT claim `data` is a JSON string `{eventType, instanceId, data, identity}`,
whose `data` is again a JSON string `{id, entityFqdn, slug, entityId,
eventTime, createdEvent | updatedEvent | actionEvent}`. Where the order sits
per slug: `created` → `createdEvent.entity`, `updated` →
`updatedEvent.currentEntity`, actions (`approved`, `canceled`,
`payment_status_updated`, …) → `actionEvent.body.order` (the Order Approved
page's example shows the last; the first two follow Wix's standard event shape).

Decisions:
- Only RS256 is accepted, so a token signed `none` or HMAC'd with the public
  key is refused; `exp`, when the token has one, is enforced (replay window).
  A retry Wix re-sends after `exp` is refused too: the poll reads that order.
- The body is verified before any claim is read; `read` decodes with
  verification again rather than trusting an unverified parse.
- `instanceId` is the app instance, not the site id we hold, so it is not
  compared; the store is chosen by the webhook URL and proven by the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jwt

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.platform import FullOrder, NothingToDo, OrderRef, WebhookNote
from plumbing.config import StoreConfig

ORDER_FQDN = "wix.ecom.v1.order"
ALGORITHMS = ["RS256"]
LEEWAY_S = 60  # clock skew between Wix and us
_PEM_HEADER = "-----BEGIN PUBLIC KEY-----"


def public_key(store: StoreConfig) -> str:
    """The store's public key as PEM; the dashboard's bare base64 body is wrapped."""
    key = (store.webhook_secret or "").strip()
    if not key:
        raise InvalidSignatureError(f"no webhook_secret (Wix public key) configured for {store.key}")
    if "-----BEGIN" not in key:
        key = f"{_PEM_HEADER}\n{key}\n-----END PUBLIC KEY-----"
    return key


def claims(store: StoreConfig, body: bytes) -> dict[str, Any]:
    """The verified claims; InvalidSignatureError for anything jwt refuses (or a key that does not load)."""
    key = public_key(store)
    try:
        return jwt.decode(body, key, algorithms=ALGORITHMS, leeway=LEEWAY_S)
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidSignatureError(f"JWT refused: {type(error).__name__}: {error}") from None


def verify(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> None:
    claims(store, body)


def read(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> WebhookNote:
    event = _event(claims(store, body))
    if "entityFqdn" not in event:
        raise UnreadableWebhookError("event has no entityFqdn")
    if event["entityFqdn"] != ORDER_FQDN:
        return NothingToDo(f"entity {event['entityFqdn']} is not an eCom order")
    order = order_in(event)
    if order is not None:
        return FullOrder(order)
    if event.get("entityId"):
        return OrderRef(str(event["entityId"]))
    raise UnreadableWebhookError(f"order event {event.get('slug')!r} carries neither the order nor its id")


def _event(verified: dict[str, Any]) -> dict[str, Any]:
    """Claim `data` → envelope → event: two JSON strings, each unwrapped and checked."""
    envelope = _json_object(verified.get("data"), "claim data")
    return _json_object(envelope.get("data"), "envelope data")


def _json_object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, str):
        raise UnreadableWebhookError(f"{where} is not a JSON string")
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise UnreadableWebhookError(f"{where} is not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise UnreadableWebhookError(f"{where} is not a JSON object")
    return parsed


def order_in(event: dict[str, Any]) -> dict[str, Any] | None:
    """The order entity the event carries, by slug; None when it carries only the id."""
    slug = event.get("slug")
    path: tuple[str, ...]
    if slug == "created":
        path = ("createdEvent", "entity")
    elif slug == "updated":
        path = ("updatedEvent", "currentEntity")
    else:
        path = ("actionEvent", "body", "order")
    node: Any = event
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    if node is None:
        return None
    if not isinstance(node, dict) or "id" not in node:
        raise UnreadableWebhookError(f"{'.'.join(path)} is not an order")
    return node
