"""WooCommerce webhooks: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(key, raw body)), the key being the secret
with its HTML entities of `< > " ' &` decoded (WooCommerce's `generate_signature` calls
`wp_specialchars_decode(secret, ENT_QUOTES)`); an unsigned ping on creation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping

from pydantic_core import from_json

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.platform import FullOrder, NothingToDo, OrderRef, WebhookNote
from connectors.woocommerce.ids import order_id
from plumbing.config import StoreConfig

SIGNATURE = "x-wc-webhook-signature"
TOPIC = "x-wc-webhook-topic"
_PING = re.compile(rb"^webhook_id=\d+$")


# What wp_specialchars_decode(…, ENT_QUOTES) turns back into a character, in one pass: the named entities of
# < > " &, their decimal forms with any leading zeros, and hexadecimal forms of ' " & only.
_ENTITY = re.compile(r"&(?:lt|gt|quot|amp|#0*(?:60|62|34|39|38)|#[xX]0*(?:27|22|26));")
_CHARACTER = {"lt": "<", "gt": ">", "quot": '"', "amp": "&"}


def sign(secret: str, body: bytes) -> str:
    key = _ENTITY.sub(_character, secret)
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _character(entity: re.Match[str]) -> str:
    name = entity.group(0)[1:-1]
    if name in _CHARACTER:
        return _CHARACTER[name]
    return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    return SIGNATURE not in headers and bool(_PING.match(body.strip()))


def verify(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> None:
    if not store.webhook_secret:
        raise InvalidSignatureError(f"no webhook_secret configured for {store.key}")
    given = headers.get(SIGNATURE)
    if not given:
        raise InvalidSignatureError("missing X-WC-Webhook-Signature")
    if not hmac.compare_digest(given.encode(), sign(store.webhook_secret, body).encode()):
        raise InvalidSignatureError("signature does not match")


def read(store: StoreConfig, headers: Mapping[str, str], body: bytes) -> WebhookNote:
    topic = headers.get(TOPIC, "")
    if not topic.startswith("order."):
        return NothingToDo(f"topic {topic or '(none)'} is not about orders")
    try:
        # pydantic's parser (jiter): a whole order in ~40 µs against json's ~100 (json was 11 % of a webhook's
        # CPU, profiled); it also refuses lone surrogates, which could never be published as UTF-8.
        payload = from_json(body)
    except ValueError as error:
        raise UnreadableWebhookError(f"body is not JSON: {error}") from None
    if not isinstance(payload, dict) or "id" not in payload:
        raise UnreadableWebhookError("body has no order id")
    if topic == "order.deleted":
        return OrderRef(order_id(payload["id"]))  # the body is only {"id": …}; the order now reads as trashed
    return FullOrder(payload)  # order.created / updated / restored: the whole order as it is now
