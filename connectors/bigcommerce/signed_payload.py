"""The `signed_payload_jwt` of BigCommerce's load and uninstall callbacks, verified (../shared/CONNECTING.md §5.1).

A JWT signed with the app's client secret: HS256 (BigCommerce's own Python client also accepts HS512, so do
we; HMAC only, so no key confusion), `aud` = our client id, `sub` = `stores/{hash}`, `exp` 24 h after `iat`.
PyJWT compares the signature in constant time and checks `exp`, `nbf`, `iat` (not in the future) and `aud`;
on top: every one of those claims must be there, and a token may not claim to live longer than BigCommerce's
24 h (one signed to last for years is not one of BigCommerce's). `iss` is "bc"; checked too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jwt

ALGORITHMS = ["HS256", "HS512"]
LEEWAY_S = 60  # clocks of BigCommerce and ours
MAX_LIFETIME_S = 24 * 3600 + LEEWAY_S
MAX_TOKEN_CHARS = 8192  # a real one is under 1 KB
STORE_CONTEXT = re.compile(r"stores/([a-z0-9]{1,32})")


class SignedPayloadError(ValueError):
    """The payload is missing, forged, for another app, expired or malformed: 401, said without the token."""


@dataclass(frozen=True)
class SignedPayload:
    store_hash: str
    issued_at: int
    owner_email: str | None
    user_email: str | None


def store_hash_of(context: object) -> str | None:
    """`stores/{hash}` → hash; None for anything else (the hash goes into URLs and is our store id)."""
    found = STORE_CONTEXT.fullmatch(context) if isinstance(context, str) else None
    return found.group(1) if found else None


def verify(token: str | None, client_id: str, client_secret: str) -> SignedPayload:
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise SignedPayloadError("signed_payload_jwt is missing or too long")
    try:
        claims = jwt.decode(
            token,
            client_secret,
            algorithms=ALGORITHMS,
            audience=client_id,
            issuer="bc",
            leeway=LEEWAY_S,
            options={"require": ["aud", "iss", "iat", "nbf", "exp", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise SignedPayloadError(f"signed_payload_jwt refused: {type(error).__name__}") from None
    if int(claims["exp"]) - int(claims["iat"]) > MAX_LIFETIME_S:
        raise SignedPayloadError("signed_payload_jwt claims to live longer than BigCommerce's 24 hours")
    store_hash = store_hash_of(claims["sub"])
    if store_hash is None:
        raise SignedPayloadError("signed_payload_jwt names no store (sub is not stores/{hash})")
    return SignedPayload(store_hash, int(claims["iat"]), _email(claims.get("owner")), _email(claims.get("user")))


def _email(who: object) -> str | None:
    email = who.get("email") if isinstance(who, dict) else None
    return email if isinstance(email, str) else None
