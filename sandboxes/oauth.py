"""An OAuth 2 authorization server as the platforms run theirs (RFC 6749, PKCE per RFC 7636), for sandboxes.

The consent page, the authorization code, the token endpoint, access tokens that expire and refresh tokens
that rotate: the parts a connector must get right to connect a store and stay connected. Each platform's
sandbox mounts it under its own paths and answers its own error bodies; what every platform shares is here.

- A code works once, for `CODE_TTL_S`, only with the redirect URI it was issued for and, where the platform
  demands PKCE, only with the verifier whose S256 digest was the challenge.
- Every refresh returns a new refresh token and the one used is dead from then on (Etsy's rotation; whether
  Etsy still honours the previous one is not documented, so the stricter rule is faked). A dead refresh token
  presented again is counted in `reused_refresh`: a connector that loses a rotation shows up there.
- `revoke()` is the merchant uninstalling, changing their password or the platform revoking the app: every
  token of the grant stops working.
- Each token carries the scopes the merchant consented to (`scope_of`), so a sandbox can refuse a call the
  grant does not cover, as the platforms do; a refresh keeps the grant's scopes.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Literal
from urllib.parse import urlencode

CODE_TTL_S = 300.0

TokenState = Literal["valid", "expired", "unknown"]


@dataclass
class _Code:
    redirect_uri: str
    challenge: str | None
    scope: str
    expires_at: float


@dataclass
class _Refresh:
    issued_at: float
    scope: str


@dataclass
class OAuthStats:
    """What tests read back: how the connector used the server."""

    codes_issued: int = 0
    tokens_issued: int = 0
    refresh_attempts: int = 0
    refreshes: int = 0
    reused_refresh: int = 0
    # Per successful refresh, how old the refresh token was (seconds): a refresh long before its access token
    # expired shows up here as a small age, two copies refreshing one generation as `reused_refresh`.
    refreshed_ages_s: list[float] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


class TokenError(Exception):
    """The token endpoint refuses: `error` is RFC 6749's code, `description` the platform's words."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


class OAuthServer:
    def __init__(
        self,
        client_id: str,
        *,
        client_secret: str = "",
        token_prefix: str = "",
        access_ttl_s: float = 3600.0,
        require_pkce: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret  # the app's secret, for sandboxes whose API checks it (Etsy's x-api-key)
        self.redirect_uris: set[str] = set()
        self.access_ttl_s = access_ttl_s
        self.stats = OAuthStats()
        self._prefix, self._pkce, self._clock = token_prefix, require_pkce, clock
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, tuple[float, str]] = {}  # token -> (expiry, scope)
        self._refresh: dict[str, _Refresh] = {}
        self._dead_refresh: set[str] = set()

    # -- the browser's side: consent --------------------------------------------------------------------

    def consent_problem(self, query: Mapping[str, str]) -> str | None:
        """Why the authorize request cannot be shown a consent page (the platform shows an error instead)."""
        if query.get("response_type") != "code":
            return "response_type must be code"
        if query.get("client_id") != self.client_id:
            return "unknown client_id"
        if query.get("redirect_uri") not in self.redirect_uris:
            return "The requested redirect URL is not permitted."
        if self._pkce and (not query.get("code_challenge") or query.get("code_challenge_method") != "S256"):
            return "code_challenge with code_challenge_method=S256 is required"
        return None

    def consent_page(self, query: Mapping[str, str], action: str, app_name: str) -> str:
        """The page a merchant sees: the app, its scopes, Allow and Deny (each a form posting back the request)."""
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in sorted(query.items())
        )
        scope = escape(query.get("scope", ""))
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Grant access</title></head><body>'
            f"<h1>{escape(app_name)} would like to connect to your shop</h1><p>Access: {scope}</p>"
            f'<form method="post" action="{escape(action)}">{hidden}'
            '<button type="submit" name="decision" value="allow">Allow access</button> '
            '<button type="submit" name="decision" value="deny">Deny</button></form></body></html>'
        )

    def decide(self, form: Mapping[str, str]) -> str:
        """Where the browser goes after the merchant's choice: the redirect URI with a code, or with an error."""
        problem = self.consent_problem(form)
        if problem:
            raise TokenError("invalid_request", problem)
        answer = {"state": form["state"]} if "state" in form else {}
        if form.get("decision") != "allow":
            return f"{form['redirect_uri']}?{urlencode({'error': 'access_denied', **answer})}"
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(
            redirect_uri=form["redirect_uri"],
            challenge=form.get("code_challenge"),
            scope=form.get("scope", ""),
            expires_at=self._clock() + CODE_TTL_S,
        )
        self.stats.codes_issued += 1
        return f"{form['redirect_uri']}?{urlencode({'code': code, **answer})}"

    # -- the app's side: the token endpoint -------------------------------------------------------------

    def token(self, form: Mapping[str, str]) -> dict[str, object]:
        """The token endpoint's answer to a form, or `TokenError`."""
        if form.get("client_id") != self.client_id:
            raise self._refuse("invalid_client", "client_id is unknown", 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._exchange(form)
        if grant == "refresh_token":
            return self._rotate(form.get("refresh_token", ""))
        raise self._refuse("unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def access(self, token: str) -> TokenState:
        issued = self._access.get(token)
        if issued is None:
            return "unknown"
        return "valid" if self._clock() < issued[0] else "expired"

    def scope_of(self, token: str) -> set[str]:
        """The scopes an access token was granted (space-separated in the request, RFC 6749 §3.3)."""
        issued = self._access.get(token)
        return set(issued[1].split()) if issued else set()

    def revoke(self) -> None:
        self._dead_refresh |= set(self._refresh)
        self._refresh.clear()
        self._access.clear()
        self._codes.clear()

    def _exchange(self, form: Mapping[str, str]) -> dict[str, object]:
        code = self._codes.pop(form.get("code", ""), None)  # once, whatever happens next
        if code is None or self._clock() >= code.expires_at:
            raise self._refuse("invalid_grant", "code is invalid, used or expired")
        if form.get("redirect_uri") != code.redirect_uri:
            raise self._refuse("invalid_grant", "redirect_uri does not match the authorization request")
        if code.challenge is not None and not _verifier_matches(form.get("code_verifier", ""), code.challenge):
            raise self._refuse("invalid_grant", "code_verifier does not match the code_challenge")
        return self._issue(code.scope)

    def _rotate(self, refresh_token: str) -> dict[str, object]:
        self.stats.refresh_attempts += 1
        if refresh_token in self._dead_refresh:
            self.stats.reused_refresh += 1
            raise self._refuse("invalid_grant", "refresh_token is revoked")
        used = self._refresh.pop(refresh_token, None)
        if used is None:
            raise self._refuse("invalid_grant", "refresh_token is invalid")
        self._dead_refresh.add(refresh_token)
        self.stats.refreshes += 1
        self.stats.refreshed_ages_s.append(round(self._clock() - used.issued_at, 3))
        return self._issue(used.scope)

    def _issue(self, scope: str) -> dict[str, object]:
        access, refresh = self._prefix + secrets.token_urlsafe(32), self._prefix + secrets.token_urlsafe(32)
        now = self._clock()
        self._access[access] = (now + self.access_ttl_s, scope)
        self._refresh[refresh] = _Refresh(now, scope)
        self.stats.tokens_issued += 1
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.access_ttl_s) if float(self.access_ttl_s).is_integer() else self.access_ttl_s,
            "refresh_token": refresh,
        }

    def _refuse(self, error: str, description: str, status: int = 400) -> TokenError:
        self.stats.refused.append(f"{error}: {description}")
        return TokenError(error, description, status)


def _verifier_matches(verifier: str, challenge: str) -> bool:
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return secrets.compare_digest(digest, challenge)
