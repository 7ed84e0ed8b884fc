"""Etsy webhooks: a thin body naming a receipt, signed the Standard Webhooks way.

Signature: headers `webhook-id`, `webhook-timestamp` (unix s) and `webhook-signature` (`v1,<base64>`,
several space-separated while a secret rotates); signed content `id.timestamp.raw body`, HMAC-SHA256
keyed with base64-decode of the secret after `whsec_`; a timestamp over 5 minutes from our clock is
refused (a replay). The `standardwebhooks` package checks it in constant time; we only name its errors.

Body: `{"event_type": "order.paid", "resource_url": ".../v3/application/shops/{shop}/receipts/{id}",
"shop_id": …}`. Etsy staff confirmed this flat form; the nested `data` form in its docs was outdated
(etsy/open-api discussion #1564). `shop_id` is an int in the observed body and a string in the docs'
example, and the observed body's `shop_id` differs from its URL's (placeholders), so the URL, the thing
we would fetch, decides which shop the receipt belongs to.

Webhooks are per app: one portal endpoint (one secret) serves every shop that authorized the app. At
`POST /webhooks/etsy` the body's `shop_id` (the URL's shop when it has none) picks the store whose
secret then verifies it; a receipt of a shop other than the store's is then nothing to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.platform import NothingToDo, OrderRef, WebhookNote
from plumbing.config import StoreConfig

SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
ETSY_API_HOSTS = {"api.etsy.com", "openapi.etsy.com"}  # equivalent, per Etsy's request standards
_RECEIPT_PATH = re.compile(r"^/v3/application/shops/(\d+)/receipts/(\d+)/?$")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>` for one delivery (the sandbox signs with this; the tests check it independently)."""
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode())


def verify(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> None:
    if not store.webhook_secret:
        raise InvalidSignatureError(f"no webhook_secret configured for {store.key}")
    try:
        hook = Webhook(store.webhook_secret)
    except (ValueError, EmptyWebhookSecretError) as error:
        raise InvalidSignatureError(f"webhook_secret of {store.key} is not whsec_<base64>: {error}") from None
    try:
        hook.verify(body, signed_headers(headers), json_parse=False)
    except WebhookVerificationError as error:
        raise InvalidSignatureError(str(error)) from None
    except ValueError as error:  # a signature entry without "v1,", bad base64, or a body that is not UTF-8
        raise InvalidSignatureError(f"malformed signature or body: {error}") from None


def signed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The three headers, names lower-cased; runs of spaces between signatures collapsed (the package splits on one)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return {k: " ".join(lowered[k].split()) for k in SIGNED_HEADERS if lowered.get(k)}


def read(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> WebhookNote:
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise UnreadableWebhookError(f"body is not JSON: {error}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("event_type"), str):
        raise UnreadableWebhookError("body has no event_type")
    event = event_name(payload["event_type"])
    if not event.startswith("order."):
        return NothingToDo(f"event {event} is not about orders")
    shop_id, receipt_id = receipt_of(store, payload.get("resource_url"))
    mine = store.credentials.get("shop_id")
    if mine and shop_id != str(mine):
        return NothingToDo(f"receipt of shop {shop_id}, not of this store's shop {mine}")
    return OrderRef(receipt_id)


def store_routing_id(store: StoreConfig) -> str | None:
    return store.credentials.get("shop_id") or None


def routing_id(headers: Mapping[str, str], body: bytes) -> str | None:
    """The shop a delivery names, read without verifying: it only picks the store whose secret verifies it."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    shop = payload.get("shop_id")
    if isinstance(shop, int) and not isinstance(shop, bool):
        return str(shop)
    if isinstance(shop, str) and shop.isdigit():
        return shop
    match = _RECEIPT_PATH.match(urlsplit(str(payload.get("resource_url") or "")).path)
    return match.group(1) if match else None


def event_name(value: str) -> str:
    """Bodies say `order.paid`; Etsy's page and portal say `ORDER_PAID`: read both as one."""
    return value.strip().lower().replace("_", ".")


def receipt_of(store: StoreConfig, url: object) -> tuple[str, str]:
    """(shop id, receipt id) from `resource_url`, on Etsy's API hosts or the store's own `base_url` (a sandbox)."""
    if not isinstance(url, str):
        raise UnreadableWebhookError("body has no resource_url")
    parts = urlsplit(url)
    allowed = ETSY_API_HOSTS | {urlsplit(store.base_url or "").hostname}
    if parts.hostname is None or parts.hostname not in allowed:
        raise UnreadableWebhookError(f"resource_url is not on Etsy's API: {parts.hostname}")
    match = _RECEIPT_PATH.match(parts.path)
    if not match:
        raise UnreadableWebhookError(f"resource_url names no receipt: {parts.path}")
    return match.group(1), match.group(2)
