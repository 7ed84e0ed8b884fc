"""Connecting a Squarespace site: OAuth 2 authorization code with `access_type=offline`.

developers.squarespace.com/commerce-apis/oauth (../shared/CONNECTING.md §4.1): `GET /start` sends the
merchant to Squarespace's confirmation page with our client id, exact redirect URI, scopes, a single-use
`state` and `access_type=offline` (without it there is no refresh token, and the store would stop after
one access token, ~30 min). Squarespace sends the browser back to `GET /callback?code&state` (or
`error=access_denied`); the code is exchanged (`oauth.py`), the website behind the token is read from
`GET /1.0/authorization/website`, and its `id` (the `websiteId` its webhooks carry) becomes the store id.
Before the store is written, its webhooks are subscribed (`subscriptions.ensure`), so their secrets are in
its very first credentials and every connector copy verifies its first notification; a subscription
Squarespace refuses now does not stop the connect (the health schedule makes it later, and the poll reads
the orders meanwhile).

Every way this can fail shows the merchant a page saying what happened and what to do; nothing is
connected unless the exchange and the identity read both succeeded. Errors are logged by kind only: a
token in an error text must not reach the logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from connectors.client import PlatformClient
from connectors.connect.apps import PlatformApp
from connectors.connect.context import BadConnectRequest, ConnectContext
from connectors.connect.pages import failed_page
from connectors.squarespace import client
from connectors.squarespace.client import USER_AGENT
from connectors.squarespace.oauth import TokenRefused, request_tokens, tokens_of
from connectors.squarespace.subscriptions import ensure
from plumbing.config import StoreConfig

log = logging.getLogger(__name__)

# Read orders (and subscribe to their webhooks); create the products a merchant publishes (`products.py`).
SCOPES = "website.orders.read,website.products"
WEBSITE = "/1.0/authorization/website"
MAX_CODE = 2048
_WEBSITE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # Squarespace's are 24 hex digits; a store id needs no more
RETRY = "Start again from the Connect Squarespace button."
SUBSCRIBE_TIMEOUT_S = 10.0  # per call, once: the merchant's browser waits on it


@dataclass(frozen=True)
class Website:
    id: str
    title: str


class UnreadableWebsite(ValueError):
    """The identity answer names no website we could make a store of."""


def routes(ctx: ConnectContext) -> APIRouter:
    router = APIRouter()
    app = ctx.app

    @router.get("/start")
    async def start(merchant_email: str | None = None) -> Response:
        try:
            state = await ctx.begin(merchant_email)
        except BadConnectRequest as error:
            return failed_page(400, str(error), "Open the Connect link again with your email address.")
        query = {
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uri,
            "scope": SCOPES,
            "state": state,
            "access_type": "offline",
        }
        return RedirectResponse(f"{app.auth_url}?{urlencode(query)}", status_code=302)

    @router.get("/callback")
    async def callback(state: str | None = None, code: str | None = None, error: str | None = None) -> Response:
        try:
            return await finish(state, code, error)
        except Exception as failure:  # Redis, the registry or the broker away: a page, never a 500
            log.error("squarespace connect: not finished: %s", type(failure).__name__)
            return failed_page(
                503, "Your site could not be connected just now.", f"Try again in a few minutes. {RETRY}"
            )

    async def finish(state: str | None, code: str | None, error: str | None) -> Response:
        remembered = await ctx.resume(state)  # taken first: whatever follows, this state is spent
        if remembered is None:
            return ctx.expired_state()
        if error is not None:
            if error == "access_denied":
                return failed_page(400, "You chose not to give personalize access to your Squarespace site.", RETRY)
            return failed_page(400, f"Squarespace did not give access ({error[:64]}).", RETRY)
        if not code or len(code) > MAX_CODE:
            return failed_page(400, "Squarespace sent no usable authorization code.", RETRY)
        try:
            tokens = tokens_of(await request_tokens(ctx.http, app, _exchange(code, app.redirect_uri)))
            website = await _website(ctx.http, app.api_url, tokens["access_token"])
        except TokenRefused as refused:
            log.warning("squarespace connect: code exchange refused: %s (%s)", refused.error, refused.status)
            return failed_page(502, f"Squarespace did not accept the connection ({refused.error}).", RETRY)
        except httpx.HTTPError as failure:
            log.warning("squarespace connect: Squarespace unreachable: %s", type(failure).__name__)
            return failed_page(502, "Squarespace could not be reached.", f"Try again in a few minutes. {RETRY}")
        except UnreadableWebsite as unreadable:
            log.warning("squarespace connect: %s", unreadable)
            return failed_page(502, "Squarespace did not say which site was connected.", RETRY)
        credentials = {**tokens, "website_id": website.id}
        credentials |= await _subscribe(app, credentials, remembered["merchant_email"])
        return await ctx.connect(
            website.id, website.title, remembered["merchant_email"], credentials, {"base_url": app.api_url}
        )

    return router


def _exchange(code: str, redirect_uri: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}


async def _website(http: httpx.AsyncClient, api_url: str, access_token: str) -> Website:
    response = await http.get(
        f"{api_url}{WEBSITE}", headers={"Authorization": f"Bearer {access_token}", "User-Agent": USER_AGENT}
    )
    if response.status_code != 200:
        raise UnreadableWebsite(f"{WEBSITE} answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise UnreadableWebsite(f"{WEBSITE} answered non-JSON") from None
    site_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(site_id, str) or not _WEBSITE_ID.match(site_id):
        raise UnreadableWebsite(f"{WEBSITE} named no website id of the expected form")
    title = body.get("title")
    return Website(site_id, title[:200] if isinstance(title, str) and title.strip() else site_id)


async def _subscribe(app: PlatformApp, credentials: dict[str, str], merchant_email: str) -> dict[str, str]:
    """The new store's webhook subscriptions made now: their ids and secrets, for its first credentials."""
    website_id = credentials["website_id"]
    store = StoreConfig(
        platform="squarespace",
        store_id=website_id,
        merchant_email=merchant_email,
        base_url=app.api_url,
        credentials=credentials,
    )
    made: dict[str, str] = {}

    async def keep(changes: Mapping[str, str | None]) -> None:
        made.update({name: value for name, value in changes.items() if value is not None})

    api = PlatformClient(
        "squarespace",
        app.api_url,
        headers=client.headers(store),
        attempts=1,
        timeout_s=SUBSCRIBE_TIMEOUT_S,
        deadline_s=SUBSCRIBE_TIMEOUT_S,
    )
    try:
        health = await ensure(api, store, app.url(f"/webhooks/squarespace/{website_id}"), save=keep)
    finally:
        await api.aclose()
    if not health.healthy:
        log.warning("squarespace connect: %s connected without all its webhooks: %s", website_id, health.problems)
    return made
