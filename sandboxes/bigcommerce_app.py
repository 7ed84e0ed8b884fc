"""BigCommerce's single-click app install, as the platform runs it (../shared/CONNECTING.md §5.1).

- The install page shows the app's scopes; the merchant accepts all of them or none. On "Confirm" the browser
  goes to the app's Auth callback with `code`, `scope`, `context=stores/{hash}` and `account_uuid`. There is no
  `state`: BigCommerce starts the flow, not the app. Reached by the external install button (`AUTH_PATH`,
  login.bigcommerce.com/app/{client_id}/install), the callback also gets `external_install=true`, and the app
  is to send the browser on to `AUTH_PATH/succeeded` (or `/failed`), which close BigCommerce's install window;
  reached from the control panel (`MARKETPLACE_PATH`, the sandbox's stand-in for the App Marketplace's
  "Install"), the callback's page is shown in the control panel.
- The token endpoint (`TOKEN_PATH`) takes JSON (the current docs) or a form (older clients) with client_id,
  client_secret, code, scope, grant_type=authorization_code, redirect_uri (the registered Auth callback, exactly)
  and context; a code works once and for `CODE_TTL_S`. The answer: access_token, scope, user, owner, context,
  account_uuid. Tokens never expire; an uninstall kills them.
- The load callback (the merchant opens the app) and the uninstall callback (server to server) are GETs with a
  `signed_payload_jwt`: HS256 with the client secret, `aud` = client_id, `iss` = "bc", `sub` = "stores/{hash}",
  `exp` 24 h after `iat`/`nbf`.

The sandbox's routes for all this (and its controls) are `bigcommerce_controls.py`.

BigCommerce's own error bodies for the token endpoint are not documented: the sandbox answers RFC 6749's
`{"error", "error_description"}`. The code lifetime is not documented either; 5 minutes here.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt

AUTH_PATH = "/app/{client_id}/install"
MARKETPLACE_PATH = "/manage/marketplace/apps/{client_id}"  # the control panel's install (no real path known)
TOKEN_PATH = "/oauth2/token"
API_PATH = "/stores/{store_hash}"  # api.bigcommerce.com/stores/{hash}/v2|v3/...
CODE_TTL_S = 300.0
JWT_TTL_S = 24 * 3600  # "exp: 24 hours after nbf"
DEFAULT_SCOPE = "store_v2_orders_read_only store_v2_products"
STORE_API_ACCOUNT = "store-api-account"  # the client of the YAML store's token (a store-level API account)


class AppError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass
class AppStats:
    codes_issued: int = 0
    tokens_issued: int = 0
    refused: list[str] = field(default_factory=list)
    uninstall_calls: list[int | str] = field(default_factory=list)  # what our uninstall callback answered
    external_outcomes: list[str] = field(default_factory=list)  # where the app sent an external install: succeeded…


@dataclass
class BigCommerceApp:
    """One app (client id and secret, its callbacks) and the one store it is installed on."""

    client_id: str
    client_secret: str
    store_hash: str
    owner_email: str
    auth_callback: str = ""  # the registered Auth callback URL; the code's redirect_uri must be it, exactly
    load_callback: str = ""
    uninstall_callback: str = ""
    scope: str = DEFAULT_SCOPE
    account_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    clock: Callable[[], float] = time.time
    stats: AppStats = field(default_factory=AppStats)
    _codes: dict[str, float] = field(default_factory=dict)
    _tokens: set[str] = field(default_factory=set)

    @property
    def context(self) -> str:
        return f"stores/{self.store_hash}"

    # -- the control panel: install ---------------------------------------------------------------------

    def install_problem(self, client_id: str) -> str | None:
        if client_id != self.client_id:
            return "This app does not exist or is not available to your store."
        if not self.auth_callback:
            return "The app has no Auth callback URL registered."
        return None

    def install_page(self, action: str, external: bool) -> str:
        scopes = "".join(f"<li>{escape(s)}</li>" for s in self.scope.split())
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Install app</title></head><body>'
            f"<h1>Install app {escape(self.client_id)} on store {escape(self.store_hash)}?</h1>"
            f"<p>This app will be able to:</p><ul>{scopes}</ul>"
            f'<form method="post" action="{escape(action)}">'
            f'<input type="hidden" name="external" value="{"true" if external else ""}">'
            '<button type="submit" name="decision" value="install">Confirm</button> '
            '<button type="submit" name="decision" value="cancel">Cancel</button></form></body></html>'
        )

    def consent(self, external: bool) -> str:
        """The Auth callback URL the browser goes to once the merchant accepted every scope."""
        code = secrets.token_urlsafe(24)
        self._codes[code] = self.clock() + CODE_TTL_S
        self.stats.codes_issued += 1
        query = {"code": code, "scope": self.scope, "context": self.context, "account_uuid": self.account_uuid}
        if external:
            query["external_install"] = "true"
        return f"{self.auth_callback}?{urlencode(query)}"

    # -- the app's server: the token endpoint -----------------------------------------------------------

    def token(self, body: Mapping[str, str]) -> dict[str, Any]:
        presented = body.get("client_secret", "")
        if body.get("client_id") != self.client_id or not hmac.compare_digest(
            presented.encode(), self.client_secret.encode()
        ):
            raise self._refuse("invalid_client", "client_id or client_secret is wrong", 401)
        if body.get("grant_type") != "authorization_code":
            raise self._refuse("unsupported_grant_type", "grant_type must be authorization_code")
        expires_at = self._codes.pop(body.get("code", ""), None)  # once, whatever happens next
        if expires_at is None or self.clock() >= expires_at:
            raise self._refuse("invalid_grant", "code is invalid, used or expired")
        if body.get("redirect_uri") != self.auth_callback:
            raise self._refuse("invalid_grant", "redirect_uri is not the app's Auth callback URL")
        if body.get("context") != self.context:
            raise self._refuse("invalid_grant", "context is not the store the code was issued for")
        if not body.get("scope"):
            raise self._refuse("invalid_request", "scope is required")
        access = secrets.token_hex(16)
        self._tokens.add(access)
        self.stats.tokens_issued += 1
        owner = {"id": 9128, "username": self.owner_email, "email": self.owner_email}
        return {
            "access_token": access,
            "scope": self.scope,
            "user": owner,
            "owner": owner,
            "context": self.context,
            "account_uuid": self.account_uuid,
        }

    def issued(self, token: str) -> bool:
        return any(hmac.compare_digest(token.encode(), t.encode()) for t in self._tokens)

    def uninstalled(self) -> None:
        self._tokens.clear()
        self._codes.clear()

    # -- the callbacks' signed payload ------------------------------------------------------------------

    def signed_payload(self) -> str:
        now = int(self.clock())
        claims = {
            "aud": self.client_id,
            "iss": "bc",
            "iat": now,
            "nbf": now,
            "exp": now + JWT_TTL_S,
            "jti": str(uuid.uuid4()),
            "sub": self.context,
            "user": {"id": 9128, "email": self.owner_email, "locale": "en-US"},
            "owner": {"id": 9128, "email": self.owner_email},
            "url": "/",
            "channel_id": None,
        }
        return jwt.encode(claims, self.client_secret, algorithm="HS256")

    def stats_view(self) -> dict[str, Any]:
        return asdict(self.stats)

    def _refuse(self, error: str, description: str, status: int = 400) -> AppError:
        self.stats.refused.append(f"{error}: {description}")
        return AppError(error, description, status)


def body_of(raw: bytes, content_type: str) -> dict[str, str]:
    """The token request's fields, JSON or form-encoded; only string values count."""
    if "json" in content_type:
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return {k: v for k, v in parsed.items() if isinstance(v, str)} if isinstance(parsed, dict) else {}
    return dict(parse_qsl(raw.decode(errors="replace")))
