"""Wix app tokens: Create Access Token per app instance (OAuth client credentials), and `refresh` per the contract.

`POST https://www.wixapis.com/oauth2/token` with JSON `{"grant_type": "client_credentials", "client_id":
<app id>, "client_secret": <app secret>, "instance_id": <instance>}` answers `{"access_token", "token_type":
"Bearer", "expires_in": 14400}` (dev.wix.com … oauth-2/create-access-token: "Always 14400 (4 hours)").
There is no refresh token: a new token is asked for whenever one is needed, so `refresh` is the same call.

Decisions (the docs say only that failures are 4xx "following the conventions of the IETF"):
- `invalid_grant` or `unauthorized_client` (RFC 6749 §5.2: the grant, here the app on that site, is no longer
  valid) is the merchant's doing: GrantRevokedError, and the store is disconnected.
- `invalid_client` (our app id or secret is wrong) and everything else is ours or Wix's passing trouble:
  PlatformError. A misconfigured secret must never disconnect every store of the app.
- `expires_in` missing is taken as the documented 14400 s; `expires_at` is unix seconds, as the contract has it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.connect.apps import PlatformApp
from connectors.errors import GrantRevokedError, PlatformError

DOCUMENTED_TTL_S = 14400
REVOKED = frozenset({"invalid_grant", "unauthorized_client"})
_MAX_TTL_S = 7 * 86400  # an answer claiming longer is not believed (the store would keep a dead token)


@dataclass(frozen=True)
class AppToken:
    access_token: str
    expires_at: int  # unix seconds

    def __repr__(self) -> str:  # the token stays out of logs
        return f"AppToken(expires_at={self.expires_at})"


async def create_token(http: httpx.AsyncClient, app: PlatformApp, instance_id: str) -> AppToken:
    """A new access token for the app on one site (`instance_id`)."""
    body = {
        "grant_type": "client_credentials",
        "client_id": app.client_id,
        "client_secret": app.secret,
        "instance_id": instance_id,
    }
    try:
        response = await http.post(app.token_url, json=body)
    except httpx.HTTPError as failed:
        raise PlatformError(f"wix: Create Access Token unreachable: {type(failed).__name__}") from None
    answer = _json(response)
    if response.status_code != 200:
        error = str(answer.get("error") or "")
        said = f"{error}: {str(answer.get('error_description') or answer.get('message') or '')[:200]}"
        if 400 <= response.status_code < 500 and error in REVOKED:
            raise GrantRevokedError(f"wix: the app is no longer installed on instance {instance_id} ({said})")
        raise PlatformError(f"wix: Create Access Token answered {response.status_code} ({said})", response.status_code)
    token, ttl = answer.get("access_token"), answer.get("expires_in", DOCUMENTED_TTL_S)
    if not isinstance(token, str) or not token:
        raise PlatformError("wix: Create Access Token answered without an access_token")
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= _MAX_TTL_S:
        raise PlatformError(f"wix: Create Access Token answered expires_in {ttl!r}")
    return AppToken(token, int(time.time() + ttl))


async def refresh(http: httpx.AsyncClient, app: PlatformApp, credentials: Mapping[str, str]) -> dict[str, str]:
    """The store's credentials with a new access token for its instance (everything else kept)."""
    instance_id = credentials.get("instance_id")
    if not instance_id:
        raise PlatformError("wix: the store has no instance_id: its token cannot be renewed")
    fresh = await create_token(http, app, instance_id)
    return {**credentials, "access_token": fresh.access_token, "expires_at": str(fresh.expires_at)}


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        parsed = response.json()
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
