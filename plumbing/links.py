"""Personalization links, the contract between the notifier (issues them) and the editor (serves them).

A link is `<PERSONALIZE_PUBLIC_URL>/p/<token>`; the token is 256 bits from
`secrets`, URL-safe; each service keeps only its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlsplit

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/p/{token}"


def token_of(url: str) -> str:
    """The link's secret: the last path segment of `<public url>/p/<token>`."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
