"""Signing the Standard Webhooks way (standardwebhooks.com), for the platforms that use it (Etsy, BigCommerce).

The `standardwebhooks` package is the specification's reference implementation: signed content
`webhook-id.webhook-timestamp.body`, HMAC-SHA256, `v1,<base64>`; the key is the base64 after an
optional `whsec_`. Each sandbox says which secret the platform signs with.
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one delivery of `body`."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    signature = Webhook(secret).sign(msg_id, moment, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}
