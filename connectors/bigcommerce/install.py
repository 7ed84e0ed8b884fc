"""The code of BigCommerce's Auth callback exchanged for the store's token (../shared/CONNECTING.md §5.1).

`POST https://login.bigcommerce.com/oauth2/token`, JSON: client_id, client_secret, code, context, scope,
grant_type=authorization_code, redirect_uri (our Auth callback, exactly as registered). The answer:
access_token, scope, user, owner{id, username, email}, context, account_uuid. The token never expires; a
new one comes with a new Auth callback (scopes changed, owner email changed, reinstall).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from connectors.bigcommerce.signed_payload import store_hash_of
from connectors.connect.apps import PlatformApp

MAX_CODE_CHARS = 512
MAX_SCOPE_CHARS = 2048
MAX_TOKEN_CHARS = 2048


class InstallRefused(Exception):
    """The code could not be exchanged: `status` is what the merchant's page answers, `what` says why."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(what)
        self.status, self.what = status, what


@dataclass(frozen=True)
class Installed:
    store_hash: str
    access_token: str
    scope: str
    owner_email: str | None
    account_uuid: str

    def __repr__(self) -> str:  # the token stays out of logs and errors
        return f"Installed(store_hash={self.store_hash!r}, scope={self.scope!r})"


def callback_problem(code: str | None, scope: str | None, context: str | None) -> str | None:
    """Why an Auth callback's query cannot be exchanged (checked before anything is sent anywhere)."""
    if not code or len(code) > MAX_CODE_CHARS:
        return "the install code is missing"
    if not scope or len(scope) > MAX_SCOPE_CHARS:
        return "the granted scopes are missing"
    if store_hash_of(context) is None:
        return "the store (context) is missing or not a BigCommerce store"
    return None


async def exchange(http: httpx.AsyncClient, app: PlatformApp, code: str, scope: str, context: str) -> Installed:
    body = {
        "client_id": app.client_id,
        "client_secret": app.secret,
        "code": code,
        "context": context,
        "scope": scope,
        "grant_type": "authorization_code",
        "redirect_uri": app.redirect_uri,
    }
    try:
        answer = await http.post(app.token_url, json=body, headers={"Accept": "application/json"})
    except httpx.HTTPError:
        raise InstallRefused(502, "BigCommerce could not be reached to finish the install.") from None
    if answer.status_code in (400, 401, 403):
        raise InstallRefused(
            400, "BigCommerce did not accept the install code: it was used already, expired, or is not for this app."
        )
    if answer.status_code != 200:
        raise InstallRefused(502, f"BigCommerce answered {answer.status_code} to the install.")
    try:
        token = answer.json()
    except ValueError:
        token = None
    if not isinstance(token, dict):
        raise InstallRefused(502, "BigCommerce's answer to the install was not readable.")
    access = token.get("access_token")
    if not isinstance(access, str) or not 0 < len(access) <= MAX_TOKEN_CHARS:
        raise InstallRefused(502, "BigCommerce's answer to the install carried no token.")
    if token.get("context") != context:  # a token for another store than the one the callback named
        raise InstallRefused(400, "BigCommerce's token is for another store than the one installed.")
    owner = token.get("owner")
    email = owner.get("email") if isinstance(owner, dict) else None
    granted = token.get("scope")
    uuid = token.get("account_uuid")
    return Installed(
        store_hash=store_hash_of(context) or "",
        access_token=access,
        scope=granted if isinstance(granted, str) else scope,
        owner_email=email if isinstance(email, str) else None,
        account_uuid=uuid if isinstance(uuid, str) else "",
    )
