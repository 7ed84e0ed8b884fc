"""Wix webhooks: the whole body is a JWT signed RS256 with Wix's key for the app; the order sits three layers deep.

Layers (https://dev.wix.com/docs/rest/articles/get-started/webhook-structure):
the JWT claim `data` is a JSON string `{eventType, instanceId, data, identity}`,
whose `data` is again a JSON string `{id, entityFqdn, slug, entityId,
eventTime, createdEvent | updatedEvent | actionEvent}`. Where the order sits
per slug: `created` → `createdEvent.entity`, `updated` →
`updatedEvent.currentEntity`, actions (`approved`, `canceled`,
`payment_status_updated`, …) → `actionEvent.body.order` (the Order Approved
page's example shows the last; the first two follow Wix's standard event shape).
Wix's event shape also names them `entityAsJson`, `currentEntityAsJson` and
`bodyAsJson`, and an entity may come as a JSON string: every form is read.

Decisions:
- Only RS256 is accepted, so a token signed `none` or HMAC'd with the public
  key is refused.
- A token must carry `iat` and be at most `MAX_AGE_S` old (`LEEWAY_S` of
  clock skew allowed either way); `exp`, when present, is enforced too. A
  token without `iat` would be valid forever: it is refused. A retry Wix sends
  with its first `iat` after that is refused too: the poll reads that order.
- The app's one URL serves every site (the app's public key is the same for
  all): the site is the envelope's `instanceId`, and a token is this store's
  only when that equals the store's `credentials.instance_id`. A store
  without one refuses every webhook (a 90-day-old token of site A posted to
  site B's URL was accepted as B's order before both checks).
- App Instance Removed (envelope `eventType` `AppRemoved`, dev.wix.com … app-instance/app-instance-removed)
  is read as `Uninstalled`: the webhook endpoint disconnects the store and deletes its credentials. It is
  bound and aged like any delivery: a removal for another site, or replayed late, is refused 401.
- The body is verified before any claim is read; `read` decodes with
  verification again rather than trusting an unverified parse. Only
  `routing_id`, which picks the store whose key then verifies, reads unverified.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import jwt

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.platform import FullOrder, NothingToDo, OrderRef, Uninstalled, WebhookNote
from plumbing.config import StoreConfig

ORDER_FQDN = "wix.ecom.v1.order"
ALGORITHMS = ["RS256"]
LEEWAY_S = 60  # clock skew between Wix and us
MAX_AGE_S = 300  # a delivery's token is minutes old at most; older ones are replays
_PEM_HEADER = "-----BEGIN PUBLIC KEY-----"
# Where each slug's order sits, every documented name of it; `*AsJson` and bare strings are parsed.
PLACES: dict[str, tuple[tuple[str, ...], ...]] = {
    "created": (("createdEvent", "entity"), ("createdEvent", "entityAsJson")),
    "updated": (("updatedEvent", "currentEntity"), ("updatedEvent", "currentEntityAsJson")),
}
ACTION_PLACES = (("actionEvent", "body", "order"), ("actionEvent", "bodyAsJson", "order"))


def public_key(store: StoreConfig) -> str:
    """The store's public key as PEM; the dashboard's bare base64 body is wrapped."""
    key = (store.webhook_secret or "").strip()
    if not key:
        raise InvalidSignatureError(f"no webhook_secret (Wix public key) configured for {store.key}")
    if "-----BEGIN" not in key:
        key = f"{_PEM_HEADER}\n{key}\n-----END PUBLIC KEY-----"
    return key


def instance_id(store: StoreConfig) -> str | None:
    """The app instance (one site) this store is: `credentials.instance_id`."""
    return store.credentials.get("instance_id") or None


store_routing_id = instance_id


def claims(store: StoreConfig, body: bytes, now: float | None = None) -> dict[str, Any]:
    """The verified claims of a young token of this store's site; InvalidSignatureError for anything else."""
    key = public_key(store)
    try:
        verified = jwt.decode(body, key, algorithms=ALGORITHMS, leeway=LEEWAY_S, options={"require": ["iat"]})
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidSignatureError(f"JWT refused: {type(error).__name__}: {error}") from None
    age = (time.time() if now is None else now) - float(verified["iat"])
    if age > MAX_AGE_S + LEEWAY_S:
        raise InvalidSignatureError(f"JWT refused: issued {age:.0f} s ago, over {MAX_AGE_S} s")
    mine = instance_id(store)
    if not mine:
        raise InvalidSignatureError(f"no credentials.instance_id configured for {store.key}: cannot bind the JWT")
    theirs = _instance_in(verified)
    if theirs is None or not hmac.compare_digest(theirs.encode(), mine.encode()):
        raise InvalidSignatureError(f"JWT of another app instance, not {store.key}'s")
    return verified


def _instance_in(verified: dict[str, Any]) -> str | None:
    try:
        found = _json_object(verified.get("data"), "claim data").get("instanceId")
    except UnreadableWebhookError:
        return None
    return found if isinstance(found, str) and found else None


def routing_id(headers: Mapping[str, str], body: bytes) -> str | None:
    """The `instanceId` a token names, read without verifying: it only picks the store whose key verifies it."""
    try:
        unverified = jwt.decode(body, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return _instance_in(unverified) if isinstance(unverified, dict) else None


def verify(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> None:
    claims(store, body)


APP_REMOVED = "AppRemoved"


def read(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> WebhookNote:
    verified = claims(store, body)
    if _json_object(verified.get("data"), "claim data").get("eventType") == APP_REMOVED:
        return Uninstalled("the app was removed from the Wix site (App Instance Removed)")
    event = _event(verified)
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
    """The order entity the event carries, by slug, in any of its forms; None when it carries only the id."""
    for path in PLACES.get(str(event.get("slug")), ACTION_PLACES):
        node = _at(event, path)
        if node is None:
            continue
        if not isinstance(node, dict) or "id" not in node:
            raise UnreadableWebhookError(f"{'.'.join(path)} is not an order")
        return node
    return None


def _at(node: Any, path: tuple[str, ...]) -> Any:
    """The value at `path`, each JSON string on the way (and at the end) parsed as the object it holds."""
    where: list[str] = []
    for step in path:
        if isinstance(node, str):
            node = _json_object(node, ".".join(where))
        node = node.get(step) if isinstance(node, dict) else None
        where.append(step)
        if node is None:
            return None
    return _json_object(node, ".".join(where)) if isinstance(node, str) else node
