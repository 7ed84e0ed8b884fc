"""Squarespace webhooks: thin notifications naming an order, signed with `Squarespace-Signature`.

developers.squarespace.com/webhooks/verifying-notifications: the signature is HMAC-SHA256 keyed with the
subscription secret decoded from hex (the secret "is always a hexadecimal value"), over the raw body.
How the header encodes the digest is not stated in words; the page's Node example writes hex. We accept
lowercase or uppercase hex and also base64, each compared in constant time, so a change of encoding on
Squarespace's side does not silently drop every order (the poll would still find them, but late).

Each subscription has its own secret (`connectors/squarespace/subscriptions.py` keeps one subscription per
topic, its secret in the credential `webhook_secret:<topic>`); a delivery verifies against any secret of
its store: the store's own URL and secret already say whose it is, and which topic it is for is read only
after. A store configured by hand has its one `webhook_secret`. A verified notification that names
another website than the store's (`websiteId`) is not the store's: dead-lettered.

`extension.uninstall` (sent "when a merchant or site owner uninstalls an extension") → `Uninstalled`: the
store is disconnected.

There is no timestamp header, so nothing bounds a replay: replay protection is dedupe only. A replayed
notification makes us fetch the order again, and an unchanged order publishes nothing
(.../webhooks/notification-delivery: at least once, out of order, duplicates possible).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.platform import NothingToDo, OrderRef, Uninstalled, WebhookNote
from plumbing.config import StoreConfig

SIGNATURE = "squarespace-signature"
ORDER_TOPICS = {"order.create", "order.update"}
UNINSTALL = "extension.uninstall"
SECRET_PREFIX = "webhook_secret:"  # + topic: the secret of the subscription we keep for that topic


def secrets_of(store: StoreConfig) -> list[str]:
    """Every secret a delivery to this store may be signed with: its subscriptions', and a configured one."""
    kept = [value for name, value in sorted(store.credentials.items()) if name.startswith(SECRET_PREFIX)]
    return kept + ([store.webhook_secret] if store.webhook_secret else [])


def digest(secret_hex: str, body: bytes) -> bytes:
    """Raises ValueError for a secret that is not hex."""
    return hmac.new(bytes.fromhex(secret_hex), body, hashlib.sha256).digest()


def sign(secret_hex: str, body: bytes) -> str:
    """The header value as the docs' example computes it (hex)."""
    return digest(secret_hex, body).hex()


def verify(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> None:
    keys = secrets_of(store)
    if not keys:
        raise InvalidSignatureError(f"no webhook_secret configured, nor a subscription secret kept, for {store.key}")
    given = (headers.get(SIGNATURE) or "").strip()
    if not given:
        raise InvalidSignatureError("missing Squarespace-Signature")
    matched = False
    for secret in keys:  # all compared, so the time taken says nothing of which one matched
        try:
            expected = digest(secret, body)
        except ValueError:
            raise InvalidSignatureError(f"a webhook secret of {store.key} is not hex, as Squarespace's are") from None
        as_hex = hmac.compare_digest(given.lower().encode(), expected.hex().encode())
        as_base64 = hmac.compare_digest(given.encode(), base64.b64encode(expected))
        matched |= as_hex or as_base64
    if not matched:
        raise InvalidSignatureError("signature does not match")


def read(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> WebhookNote:
    """`{id, websiteId, subscriptionId, topic, createdOn, data: {orderId[, update]}}` → the order to fetch."""
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise UnreadableWebhookError(f"body is not JSON: {error}") from None
    topic = payload.get("topic") if isinstance(payload, dict) else None
    if not isinstance(topic, str) or not topic:
        raise UnreadableWebhookError("notification has no topic")
    website = store.credentials.get("website_id")
    if website and payload.get("websiteId") != website:
        raise UnreadableWebhookError(f"{topic} notification names another website than the store's")
    if topic == UNINSTALL:
        return Uninstalled("the merchant uninstalled the app on Squarespace (extension.uninstall)")
    if topic not in ORDER_TOPICS:
        return NothingToDo(f"topic {topic} is not about orders")
    data = payload.get("data")
    order_id = data.get("orderId") if isinstance(data, dict) else None
    if not isinstance(order_id, str) or not order_id:
        raise UnreadableWebhookError(f"{topic} notification has no data.orderId")
    return OrderRef(order_id)  # `data.update` (FULFILLED, CANCELED, …) is read from the order itself
