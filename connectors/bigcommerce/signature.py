"""BigCommerce webhooks: thin JSON bodies signed the Standard Webhooks way.

BigCommerce tells receivers to verify with a Standard Webhooks library, keyed
with base64(client secret of the API account that created the hook); the
headers are the spec's `webhook-id`, `webhook-timestamp`, `webhook-signature`
(signed content `id.timestamp.body`, HMAC-SHA256). The library refuses a
timestamp more than 5 minutes off our clock (replays). `store.webhook_secret`
holds the client secret exactly as BigCommerce shows it.

The body names an order only: `{scope, store_id, data: {type, id}, hash,
created_at, producer}`; the connector fetches the order after answering.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.platform import NothingToDo, OrderRef, WebhookNote
from plumbing.config import StoreConfig

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# The order id is `data.id` for these (refunds too: the refund's own id is `data.refund.refund_id`) ...
ORDER_SCOPES = {
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
    "store/order/archived",
    "store/order/refund/created",
}
# ... and `data.order_id` for transactions, which can change the payment status.
TRANSACTION_SCOPES = {"store/order/transaction/created", "store/order/transaction/updated"}


def key_for(client_secret: str) -> str:
    """The signing key BigCommerce uses: the client secret, base64-encoded."""
    return base64.b64encode(client_secret.encode()).decode()


def sign(key: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 signature>` (the sandbox signs with this; tests check it against the reference vector)."""
    return Webhook(key).sign(msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode())


def verify(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> None:
    if not store.webhook_secret:
        raise InvalidSignatureError(f"no webhook_secret configured for {store.key}")
    verify_with_key(key_for(store.webhook_secret), headers, body)


def verify_with_key(key: str, headers: Mapping[str, str], body: bytes) -> None:
    given = {name: headers.get(name, "") for name in HEADERS}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise InvalidSignatureError(f"missing {', '.join(missing)}")
    try:
        Webhook(key).verify(body, given, json_parse=False)  # parsing is read()'s job, after verification
    except WebhookVerificationError as error:
        raise InvalidSignatureError(str(error)) from None
    except ValueError as error:  # malformed base64, a signature without "v1,", a body that is not UTF-8
        raise InvalidSignatureError(f"malformed signature headers or body: {type(error).__name__}") from None


def read(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> WebhookNote:
    payload = _json(body)
    scope = payload.get("scope")
    if not isinstance(scope, str) or not isinstance(payload.get("data"), dict):
        raise UnreadableWebhookError("body has no scope or no data")
    if scope in ORDER_SCOPES:
        return OrderRef(_order_id(payload["data"], "id"))
    if scope in TRANSACTION_SCOPES:
        return OrderRef(_order_id(payload["data"], "order_id"))
    return NothingToDo(f"scope {scope} does not change an order we track")


def _json(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise UnreadableWebhookError(f"body is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise UnreadableWebhookError("body is not a JSON object")
    return payload


def _order_id(data: dict, field: str) -> str:
    value = data.get(field)
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
        raise UnreadableWebhookError(f"data.{field} is not an order id: {value!r}")
    return str(value)
