"""A Squarespace store's access token renewed with its refresh token (the contract of `connectors.tokens`).

Refresh tokens rotate: the answer's new one replaces the old, which must never be presented again (a keeper
that lost the rotation would present a dead token and lose the store). Only `invalid_grant` means the grant
is gone (revoked, uninstalled, expired): a refused client (`invalid_client`: our app's secret is wrong) or an
outage says nothing about the merchant's grant, so neither disconnects a store.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from connectors.client import RetryableError
from connectors.connect.apps import PlatformApp
from connectors.errors import GrantRevokedError, PlatformError
from connectors.squarespace.oauth import TokenRefused, request_tokens, tokens_of


async def refresh(http: httpx.AsyncClient, app: PlatformApp, credentials: Mapping[str, str]) -> dict[str, str]:
    """The store's whole credentials with a new access token, the rotated refresh token and `expires_at`.

    Raises GrantRevokedError (`invalid_grant`, or no refresh token kept), RetryableError (unreachable, 5xx)
    or PlatformError (any other refusal)."""
    kept = credentials.get("refresh_token")
    if not kept:
        raise GrantRevokedError("squarespace: the store has no refresh token (connected without access_type=offline)")
    try:
        answer = await request_tokens(http, app, {"grant_type": "refresh_token", "refresh_token": kept})
        return {**credentials, **tokens_of(answer, keep_refresh=kept)}  # kept if none came: not rotated
    except TokenRefused as refused:
        if refused.error == "invalid_grant":
            raise GrantRevokedError("squarespace: the refresh token was refused (invalid_grant)") from None
        if refused.status is not None and refused.status >= 500:
            raise RetryableError(str(refused)) from None
        raise PlatformError(str(refused), refused.status) from None
    except httpx.HTTPError as error:
        raise RetryableError(f"squarespace: tokens endpoint unreachable: {type(error).__name__}") from None
