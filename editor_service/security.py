"""Link tokens, form signatures, and the ASGI layer every response passes through (headers).

The body limit is `plumbing.body_limit`, shared by every HTTP server.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# `secrets.token_urlsafe(32)` gives 43 characters; anything far off is not a token and never reaches Redis.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")

SECURITY_HEADERS = [
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        (
            b"default-src 'self'; img-src 'self' data: blob:; script-src 'self'; "
            b"style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
]
NO_STORE = (b"cache-control", b"no-store")


def looks_like_token(token: str) -> bool:
    return bool(TOKEN_PATTERN.match(token))


def form_token(secret: bytes, link_hash: str) -> str:
    """The CSRF token of one link's forms: an HMAC of the link's hash, so no server-side session is needed."""
    return hmac.new(secret, f"editor-form:{link_hash}".encode(), hashlib.sha256).hexdigest()


def form_token_ok(secret: bytes, link_hash: str, given: str | None) -> bool:
    # As bytes: compare_digest raises TypeError on a str with non-ASCII characters (a forged field → a 500).
    if not given:
        return False
    return hmac.compare_digest(form_token(secret, link_hash).encode(), given.encode(errors="replace"))


class SecurityHeaders:
    """Adds the security headers to every response, and `Cache-Control: no-store` to the link pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = scope["path"].startswith("/p/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in SECURITY_HEADERS if h[0] not in names]
                if private:
                    extra = [h for h in extra if h[0] != b"cache-control"] + [NO_STORE]
                    message["headers"] = [h for h in message.get("headers", []) if h[0].lower() != b"cache-control"]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
