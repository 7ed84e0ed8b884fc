"""Etsy's token endpoint: a consent's code for tokens, and a refresh token for new ones (Etsy rotates it).

`POST https://api.etsy.com/v3/public/oauth/token`, a form: `grant_type=authorization_code` with `client_id`
(the keystring), `redirect_uri`, `code` and `code_verifier`; or `grant_type=refresh_token` with `client_id`
and `refresh_token`. No client secret goes in the body (../shared/CONNECTING.md §2). The answer is
`{"access_token": "<user id>.…", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "<user id>.…"}`.

Once Etsy answered 200 the refresh token we sent is spent, so the answer is read leniently: without a usable
`expires_in` Etsy's documented hour is assumed, without a new `refresh_token` the old one is kept; only an
answer with no access token is refused. `expires_at` counts from when the request was sent, so it errs early.
A refused refresh with `invalid_grant` ("refresh_token is revoked": the seller removed the app or changed their
password) is `GrantRevokedError`; any other failure leaves the grant as it was, to be tried again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx

from connectors.connect.apps import PlatformApp
from connectors.errors import GrantRevokedError, PlatformError

ETSY_LIFETIME_S = 3600  # an access token's, when the answer does not say
MAX_TOKEN_CHARS = 4096


class TokenRefused(PlatformError):
    """The token endpoint answered an OAuth error (`error` is RFC 6749's code, e.g. invalid_grant)."""

    def __init__(self, error: str, description: str, status: int) -> None:
        super().__init__(f"etsy token endpoint: {error}: {description}", status)
        self.error, self.description = error, description


async def exchange_code(
    http: httpx.AsyncClient, app: PlatformApp, code: str, verifier: str, clock: Callable[[], float] = time.time
) -> dict[str, str]:
    """The tokens a consent's code is worth (access_token, refresh_token, expires_at); `TokenRefused` if none."""
    form = {
        "grant_type": "authorization_code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "code": code,
        "code_verifier": verifier,
    }
    return await _ask(http, app, form, clock)


async def refresh(
    http: httpx.AsyncClient,
    app: PlatformApp,
    credentials: Mapping[str, str],
    clock: Callable[[], float] = time.time,
) -> dict[str, str]:
    """The store's whole credentials with a new access token, the rotated refresh token and its expiry."""
    refresh_token = credentials.get("refresh_token")
    if not refresh_token:
        raise PlatformError("etsy: the store has no refresh_token to renew its access with")
    form = {"grant_type": "refresh_token", "client_id": app.client_id, "refresh_token": refresh_token}
    try:
        tokens = await _ask(http, app, form, clock)
    except TokenRefused as refused:
        if refused.error == "invalid_grant":
            raise GrantRevokedError(f"Etsy refused to renew access: {refused.description}") from None
        raise
    return {**credentials, "refresh_token": refresh_token, **tokens}


async def _ask(http: httpx.AsyncClient, app: PlatformApp, form: dict[str, str], clock: Callable[[], float]) -> dict:
    sent_at = clock()
    response = await http.post(app.token_url, data=form, headers={"accept": "application/json"})
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            description = str(body.get("error_description") or "")[:200]
            raise TokenRefused(body["error"][:100], description, response.status_code)
        raise PlatformError(f"etsy token endpoint: {response.status_code}", response.status_code)
    if not isinstance(body, dict):
        raise PlatformError("etsy token endpoint answered 200 without a JSON object", 200)
    return tokens_of(body, sent_at)


def tokens_of(body: dict, sent_at: float) -> dict[str, str]:
    access = body.get("access_token")
    if not isinstance(access, str) or not access or len(access) > MAX_TOKEN_CHARS:
        raise PlatformError("etsy token endpoint answered 200 without an access_token", 200)
    tokens = {"access_token": access, "expires_at": str(int(sent_at + lifetime(body.get("expires_in"))))}
    rotated = body.get("refresh_token")
    if isinstance(rotated, str) and rotated and len(rotated) <= MAX_TOKEN_CHARS:
        tokens["refresh_token"] = rotated
    return tokens


def lifetime(value: object) -> float:
    """`expires_in` in seconds; Etsy's hour when it is missing or not a sensible number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 366 * 86400:
        return ETSY_LIFETIME_S
    return float(value)
