"""Standard Webhooks (standardwebhooks.com), as Etsy and BigCommerce sign: our own signer, its forgeries, the vector.

Written here from the specification, independently of the connectors and the sandboxes: signed content
`webhook-id.webhook-timestamp.body`, HMAC-SHA256 keyed with the platform's key, `v1,<base64>` (several
may be given, space-separated); a timestamp more than five minutes from the receiver's clock is a replay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any

import pytest
import standardwebhooks.webhooks

from connectors.errors import InvalidSignatureError
from tests.connectors.contract import Delivery, PlatformContract

# The specification's published vector (sandboxes/samples/SOURCES.md).
VECTOR_SECRET, VECTOR_ID = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY, VECTOR_SIGNATURE = b'{"test": 2432232314}', "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def standard_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


class StandardWebhooksContract(PlatformContract):
    signature_header = "webhook-signature"
    forgeries = (
        pytest.param(lambda t, h, b: t.deliver(b, timestamp=int(time.time()) - 301), id="stale: a replay"),
        pytest.param(lambda t, h, b: t.deliver(b, timestamp=int(time.time()) + 301), id="from the future"),
        pytest.param(lambda t, h, b: (_without(h, "webhook-id"), b), id="no message id"),
        pytest.param(lambda t, h, b: ({**h, "webhook-id": "msg_2"}, b), id="another message's id"),
        pytest.param(lambda t, h, b: ({**h, "webhook-signature": "garbage"}, b), id="no version"),
        pytest.param(lambda t, h, b: ({**h, "webhook-signature": "v1,%%%"}, b), id="v1 and no base64"),
        pytest.param(lambda t, h, b: ({**h, "webhook-signature": "v1,not base64!"}, b), id="v1 and broken base64"),
        pytest.param(lambda t, h, b: ({**h, "webhook-timestamp": "soon"}, b), id="a timestamp that is not one"),
        pytest.param(lambda t, h, b: t.deliver(b"\xff" + b), id="not UTF-8: the package cannot even read it"),
    )

    def key(self, secret: str) -> bytes:
        """The HMAC key the platform derives from a store's secret."""
        raise NotImplementedError

    def sign_vector(self) -> str:
        """The connector's signature of the vector's message."""
        raise NotImplementedError

    def verify_vector(self, headers: dict[str, str], body: bytes) -> None:
        """The connector's verification, keyed with the vector's secret."""
        raise NotImplementedError

    def deliver(
        self,
        payload: Any,
        headers: dict[str, str] | None = None,
        secret: Any = None,
        *,
        timestamp: int | None = None,
        msg_id: str = "msg_1",
    ) -> Delivery:
        """`payload`: the body, or a JSON object to send as one."""
        body = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        timestamp = int(time.time()) if timestamp is None else timestamp
        signature = standard_signature(self.key(secret or self.store.webhook_secret), msg_id, timestamp, body)
        signed = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}
        return {**signed, **(headers or {})}, body

    def check_signature(self, headers: dict[str, str], body: bytes) -> None:
        key = self.key(self.served_store.webhook_secret or "")
        msg_id, timestamp = headers["webhook-id"], int(headers["webhook-timestamp"])
        assert headers["webhook-signature"] == standard_signature(key, msg_id, timestamp, body)

    def test_the_standard_webhooks_reference_vector_verifies(self, monkeypatch: pytest.MonkeyPatch) -> None:
        class AtTheVectorsTime(datetime):  # the package's clock
            @classmethod
            def now(cls, tz=None):
                return datetime.fromtimestamp(VECTOR_TS + 30, tz)

        monkeypatch.setattr(standardwebhooks.webhooks, "datetime", AtTheVectorsTime)
        vector_key = base64.b64decode(VECTOR_SECRET.removeprefix("whsec_"))
        assert standard_signature(vector_key, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE  # ours is right
        assert self.sign_vector() == VECTOR_SIGNATURE
        headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS), "webhook-signature": VECTOR_SIGNATURE}
        self.verify_vector(headers, VECTOR_BODY)
        with pytest.raises(InvalidSignatureError):
            self.verify_vector(headers, VECTOR_BODY.replace(b"4", b"5"))
