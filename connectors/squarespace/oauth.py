"""Squarespace's tokens endpoint, as the connect flow and the refresh both ask it.

developers.squarespace.com/commerce-apis/oauth and integrations (../shared/CONNECTING.md §4.1-4.2): `POST
<token_url>` with `Authorization: Basic base64(client_id:client_secret)` and a JSON body, either
`{grant_type: authorization_code, code, redirect_uri}` or `{grant_type: refresh_token, refresh_token}`; the
answer has `access_token`, `refresh_token` (for an `access_type=offline` grant; a new one on each refresh)
and `access_token_expires_at` in unix seconds (we fall back on `expires_in`, then on 30 minutes).

A token longer than a credential may be is refused here, where it enters: it would be refused by the
registry later, after the code was spent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.connect.apps import PlatformApp
from connectors.squarespace.client import USER_AGENT
from plumbing.limits import SECRET_MAX

DEFAULT_TTL_S = 1800  # "about 30 minutes", when the answer names no expiry


class TokenRefused(Exception):
    """The tokens endpoint said no (`error` is its RFC 6749 code when it gave one), or answered nonsense."""

    def __init__(self, error: str, status: int | None) -> None:
        super().__init__(f"Squarespace's tokens endpoint refused: {error} ({status})")
        self.error, self.status = error, status


async def request_tokens(http: httpx.AsyncClient, app: PlatformApp, grant: Mapping[str, str]) -> dict[str, Any]:
    """The endpoint's answer to `grant`; raises `TokenRefused`, or httpx's errors when it cannot be reached."""
    response = await http.post(
        app.token_url,
        json=dict(grant),
        auth=httpx.BasicAuth(app.client_id, app.secret),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
    )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TokenRefused("answer is not a JSON object", response.status_code)
    if response.status_code != 200:
        error = body.get("error")
        raise TokenRefused(error[:64] if isinstance(error, str) else "unknown error", response.status_code)
    return body


def tokens_of(answer: Mapping[str, Any], keep_refresh: str | None = None, now: float | None = None) -> dict[str, str]:
    """`access_token`, `refresh_token` (the answer's, else `keep_refresh`), `expires_at` (unix s) of an answer."""
    access, refresh = answer.get("access_token"), answer.get("refresh_token") or keep_refresh
    for name, token in (("access_token", access), ("refresh_token", refresh)):
        if not isinstance(token, str) or not token or len(token) > SECRET_MAX:
            raise TokenRefused(f"answer has no usable {name}", 200)
    assert isinstance(access, str) and isinstance(refresh, str)
    return {"access_token": access, "refresh_token": refresh, "expires_at": str(_expires_at(answer, now))}


def _expires_at(answer: Mapping[str, Any], now: float | None) -> int:
    now = time.time() if now is None else now
    at, within = _seconds(answer.get("access_token_expires_at")), _seconds(answer.get("expires_in"))
    if at is not None:
        return int(at)
    return int(now + (DEFAULT_TTL_S if within is None else within))


def _seconds(value: object) -> float | None:
    """A count of seconds, or None for anything else (a string, a bool, NaN, a negative or absurd number)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11:
        return float(value)
    return None
