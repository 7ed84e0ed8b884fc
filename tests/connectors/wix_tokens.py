"""Wix webhooks as the tests build them: a JWT (RS256, a key made here) whose claim `data` holds the envelope,
whose `data` holds the event (dev.wix.com/docs/rest/articles/get-started/webhook-structure), and forgeries of it.

Built with PyJWT and checked with `cryptography` alone, never with the connector's or the sandbox's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.connectors.platform_case import built_sample

INSTANCE, OTHER_INSTANCE = "i-1", "i-2"  # the app on the unit store's site, and on another site
KEY, OTHER_KEY = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
PUBLIC_PEM = (
    KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
)


def documented_order() -> dict:
    return built_sample("wix_order.json")


def token(claims: dict, key: Any = KEY) -> bytes:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 300, **claims}, key, algorithm="RS256").encode()


def bare_token(claims: dict, key: Any = KEY) -> bytes:
    """Signed with exactly these claims: no `iat` or `exp` added."""
    return jwt.encode(claims, key, algorithm="RS256").encode()


def claims(event: dict, instance: str = INSTANCE) -> dict:
    """The token's claims for one event: claim `data` holds the envelope, whose `data` holds the event."""
    return {"data": json.dumps({"eventType": "wix.ecom.v1.order_x", "instanceId": instance, "data": json.dumps(event)})}


def event(slug: str, **carrier: Any) -> dict:
    return {"id": "e-1", "entityFqdn": "wix.ecom.v1.order", "slug": slug, "entityId": "6f759095", **carrier}


def nested(inner: object) -> dict:
    return {"data": json.dumps({"instanceId": INSTANCE, "data": json.dumps(inner)})}


def b64url(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def hs256_with_the_public_key() -> bytes:
    signing = b64url(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64url(json.dumps({"data": "{}"}).encode())
    return signing + b"." + b64url(hmac.new(PUBLIC_PEM.encode(), signing, hashlib.sha256).digest())


def swap_payload(body: bytes) -> bytes:
    header, _, signature = body.split(b".")
    other = token(claims(event("created", createdEvent={"entity": {**documented_order(), "id": "forged"}})))
    return b".".join([header, other.split(b".")[1], signature])


CARRIERS = {
    "created": lambda o: {"createdEvent": {"entity": o}},
    "updated": lambda o: {"updatedEvent": {"currentEntity": o}},
    "approved": lambda o: {"actionEvent": {"body": {"order": o}}},
    "payment_status_updated": lambda o: {"actionEvent": {"body": {"order": o}}},
}


def verify_rs256(body: bytes, public_pem: str) -> None:
    """Raises unless `body` is a JWT that says RS256 and carries that signature by the key of `public_pem`."""
    signing_input, _, signature = body.rpartition(b".")
    assert json.loads(base64.urlsafe_b64decode(signing_input.split(b".")[0] + b"=="))["alg"] == "RS256"
    public = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(base64.urlsafe_b64decode(signature + b"=="), signing_input, padding.PKCS1v15(), hashes.SHA256())
