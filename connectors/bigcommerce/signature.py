"""BigCommerce webhooks: thin JSON bodies signed the Standard Webhooks way.

BigCommerce tells receivers to verify with a Standard Webhooks library, keyed
with base64(client secret of the API account that created the hook); the
headers are the spec's `webhook-id`, `webhook-timestamp`, `webhook-signature`
(signed content `id.timestamp.body`, HMAC-SHA256). The library refuses a
timestamp more than 5 minutes off our clock (replays). `store.webhook_secret`
holds the client secret exactly as BigCommerce shows it.

Optionally (alone or as well) a header of the store's own, set in the hook's
`headers` on registration: `credentials.webhook_header_name` / `webhook_header_value`,
compared in constant time. When both are configured both must hold.

The body names an order only: `{scope, store_id, data: {type, id}, hash,
created_at, producer}`; the connector fetches the order after answering.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from connectors.bigcommerce import ids
from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.platform import NothingToDo, OrderRef, WebhookNote
from plumbing.config import StoreConfig

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# A header of the store's own choosing, set in the hook's `headers` on registration and echoed by BigCommerce on
# every delivery (its docs: "your own auth header"): for hooks that carry no signature the connector can check.
HEADER_NAME, HEADER_VALUE = "webhook_header_name", "webhook_header_value"  # keys of the store's credentials
MIN_HEADER_VALUE = 32  # characters: a random token, like the 32+ bytes of a signing secret, not a password
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_NOT_YOURS = {*HEADERS, "host", "content-type", "content-length", "user-agent", "authorization", "x-auth-token"}
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
    """Every scheme the store configures must hold: the custom header, the signature, or both."""
    header = custom_header(store)
    if not store.webhook_secret and header is None:
        raise InvalidSignatureError(f"no webhook_secret (nor credentials.{HEADER_NAME}) configured for {store.key}")
    if header is not None:
        name, expected = header
        given = headers.get(name)
        if given is None:
            raise InvalidSignatureError(f"missing {name}")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise InvalidSignatureError(f"{name} does not match")
    if store.webhook_secret:
        verify_with_key(key_for(store.webhook_secret), headers, body)


def custom_header(store: StoreConfig) -> tuple[str, str] | None:
    """The header (lower-cased name, value) the store's hooks were registered with, if it uses one."""
    name, value = store.credentials.get(HEADER_NAME), store.credentials.get(HEADER_VALUE)
    if not name and not value:
        return None
    if not (name and value):
        raise InvalidSignatureError(f"{store.key}: credentials.{HEADER_NAME} and .{HEADER_VALUE} go together")
    if not _HEADER_NAME.fullmatch(name) or name.lower() in _NOT_YOURS:
        raise InvalidSignatureError(f"{store.key}: credentials.{HEADER_NAME} {name[:40]!r} is not a header of your own")
    if len(value) < MIN_HEADER_VALUE:
        raise InvalidSignatureError(f"{store.key}: credentials.{HEADER_VALUE} is shorter than {MIN_HEADER_VALUE}")
    return name.lower(), value


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
    return ids.order_id(data.get(field), f"data.{field}")
