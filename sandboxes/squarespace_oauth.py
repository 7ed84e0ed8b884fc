"""Squarespace's OAuth 2 server, as a connector meets it: the confirmation page, the tokens endpoint, and the
controls a test sets it with. The shared machinery (codes once, exact redirect URIs, access tokens that
expire, refresh tokens that rotate, a revoked grant) is `sandboxes/oauth.py`; this is what Squarespace does
its own way (developers.squarespace.com/commerce-apis/oauth; ../shared/CONNECTING.md §4):

- `GET AUTH_PATH?client_id&redirect_uri&scope&state&access_type=offline`: the confirmation page; Allow sends
  the browser to `redirect_uri?code=…&state=…`, Deny to `redirect_uri?error=access_denied&state=…`. The docs
  list no `response_type` (so none is required) and no PKCE.
- `POST TOKEN_PATH` with `Authorization: Basic base64(client_id:client_secret)` and a JSON (or form) body
  `{grant_type: authorization_code, code, redirect_uri}` or `{grant_type: refresh_token, refresh_token}`.
  The answer carries `access_token_expires_at` / `refresh_token_expires_at` in unix seconds, as integrations
  read them. Only a grant asked with `access_type=offline` gets a refresh token (the docs: "needed to get a
  refresh token"). Every refresh returns a new refresh token and the old one dies (implementations treat it
  as rotating; whether Squarespace keeps the old one a while is not documented, so the stricter rule).

Choices where the docs say nothing: errors are RFC 6749's `{error, error_description}`; a wrong or missing
Basic header is 401 `invalid_client`; refresh tokens say they live 7 days (the figure integrators quote) and
are not expired by the sandbox.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from sandboxes.oauth import OAuthServer, TokenError

AUTH_PATH = "/api/1/login/oauth/provider/authorize"  # login.squarespace.com
TOKEN_PATH = "/api/1/login/oauth/provider/tokens"  # login.squarespace.com
ACCESS_TTL_S = 1800.0  # "about 30 minutes" (integrations; the docs give no figure)
REFRESH_TTL_S = 7 * 24 * 3600.0


class OAuthSettings(BaseModel):
    redirect_uris: list[str] = Field(default_factory=list)
    access_ttl_s: float = Field(default=ACCESS_TTL_S, gt=0, description="Squarespace's is ~30 min; tests want seconds.")
    client_id: str | None = None  # default: the store's `client_id` credential
    client_secret: str | None = None  # default: the store's `client_secret` credential


class SquarespaceOAuth(OAuthServer):
    """The shared server without PKCE, with a client secret checked from the Basic header and `access_type`."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__(client_id, access_ttl_s=ACCESS_TTL_S, require_pkce=False)
        self.client_secret = client_secret
        self._online_codes: set[str] = set()  # codes granted without access_type=offline

    def consent_problem(self, query: Mapping[str, str]) -> str | None:
        return super().consent_problem({"response_type": "code", **query})

    def decide(self, form: Mapping[str, str]) -> str:
        where = super().decide({"response_type": "code", **form})
        if form.get("access_type") != "offline":
            self._online_codes.update(parse_qs(urlsplit(where).query).get("code", []))
        return where

    def answer(self, authorization: str, body: Mapping[str, str]) -> dict[str, Any]:
        """The tokens endpoint: Basic client credentials, then the grant; raises `TokenError`."""
        client_id = self._client(authorization)
        code = body.get("code", "") if body.get("grant_type") == "authorization_code" else ""
        issued = self.token({**body, "client_id": client_id})
        now = time.time()
        answer: dict[str, Any] = {
            "token_type": "bearer",
            "access_token": issued["access_token"],
            "access_token_expires_at": now + self.access_ttl_s,
            "expires_in": self.access_ttl_s,
        }
        if code in self._online_codes:
            self._online_codes.discard(code)
            self._refresh.pop(str(issued["refresh_token"]), None)  # an online grant: no refresh token exists
        else:
            answer.update(refresh_token=issued["refresh_token"], refresh_token_expires_at=now + REFRESH_TTL_S)
        return answer

    def _client(self, authorization: str) -> str:
        scheme, _, encoded = authorization.partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        id_ok = secrets.compare_digest(client_id.encode(), self.client_id.encode())
        secret_ok = secrets.compare_digest(secret.encode(), self.client_secret.encode())
        if scheme.lower() != "basic" or not (id_ok and secret_ok):
            raise self._refuse("invalid_client", "client authentication failed", 401)
        return client_id


def _error_page(problem: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><title>Error</title><p>{escape(problem)}</p>", status_code=400)


async def _body(request: Request) -> dict[str, str]:
    """The tokens request's body: integrations send JSON or a form, and both are taken."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(await request.body())
        except ValueError:
            return {}
        return {k: v for k, v in parsed.items() if isinstance(v, str)} if isinstance(parsed, dict) else {}
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def oauth_routes(oauth: SquarespaceOAuth) -> APIRouter:
    """The confirmation page, the tokens endpoint, and `/_sandbox/oauth` (settings, stats, revoke)."""
    router = APIRouter()

    @router.post("/_sandbox/oauth")
    async def configure(settings: OAuthSettings) -> dict[str, Any]:
        oauth.redirect_uris = set(settings.redirect_uris)
        oauth.access_ttl_s = settings.access_ttl_s
        oauth.client_id = settings.client_id or oauth.client_id
        oauth.client_secret = settings.client_secret or oauth.client_secret
        return {**settings.model_dump(exclude={"client_secret"}), "client_id": oauth.client_id}

    @router.get("/_sandbox/oauth")
    async def stats() -> dict[str, Any]:
        return asdict(oauth.stats)

    @router.post("/_sandbox/oauth/revoke")
    async def revoke() -> dict[str, Any]:
        oauth.revoke()
        return {"revoked": True}

    @router.get(AUTH_PATH)
    async def confirmation(request: Request) -> Response:
        query = dict(request.query_params)
        problem = oauth.consent_problem(query)
        if problem:
            return _error_page(problem)
        return HTMLResponse(oauth.consent_page(query, AUTH_PATH, app_name=f"App {oauth.client_id}"))

    @router.post(AUTH_PATH)
    async def decide(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        try:
            return RedirectResponse(oauth.decide(form), status_code=302)
        except TokenError as refused:
            return _error_page(refused.description)

    @router.post(TOKEN_PATH)
    async def tokens(request: Request) -> Response:
        try:
            return JSONResponse(oauth.answer(request.headers.get("authorization", ""), await _body(request)))
        except TokenError as refused:
            body = {"error": refused.error, "error_description": refused.description}
            return JSONResponse(body, status_code=refused.status)

    return router
