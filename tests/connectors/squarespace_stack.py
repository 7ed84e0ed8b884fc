"""A Squarespace site (the sandbox) and our app registered with it, in this process, for the connect, token and
subscription tests: the sandbox is reached through an ASGI transport, whatever host a URL names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import httpx
from pydantic import SecretStr

from connectors.connect.apps import PlatformApp
from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.squarespace import AUTH_PATH, TOKEN_PATH, SquarespaceSandbox

CLIENT_ID, CLIENT_SECRET = "sq-client-4d1e", "sq-client-secret-9b7a2c"
WEBSITE_ID = "5f3c3d55ac435e1a051f77b3"  # the webhook samples' site
SITE_TITLE = "Ada's <Mugs>"
API_KEY = "sq-configured-api-key"
PLATFORM = "http://squarespace.sandbox"  # login.squarespace.com and api.squarespace.com, both
OURS = "https://connect.example.com"


def platform_app(secret: str = CLIENT_SECRET, token_url: str = PLATFORM + TOKEN_PATH) -> PlatformApp:
    return PlatformApp(
        platform="squarespace",
        client_id=CLIENT_ID,
        client_secret=SecretStr(secret),
        auth_url=PLATFORM + AUTH_PATH,
        token_url=token_url,
        api_url=PLATFORM,
        base_url=OURS,
    )


def site_store(store_id: str = "sq-site") -> StoreConfig:
    """The site as the sandbox serves it (its app's credentials, its id and title, a configured API key)."""
    return StoreConfig(
        platform="squarespace",
        store_id=store_id,
        merchant_email="site-owner@example.com",
        base_url="https://api.squarespace.com",
        credentials={
            "api_key": API_KEY,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "website_id": WEBSITE_ID,
            "site_title": SITE_TITLE,
        },
    )


@dataclass
class Site:
    http: httpx.AsyncClient  # to the sandbox, any host
    sandbox: SquarespaceSandbox
    app: PlatformApp

    async def oauth_stats(self) -> dict:
        return (await self.http.get("/_sandbox/oauth")).json()


@asynccontextmanager
async def squarespace_site(access_ttl_s: float = 600) -> AsyncIterator[Site]:
    sandbox = SquarespaceSandbox()
    app = platform_app()
    transport = httpx.ASGITransport(app=make_sandbox_app(sandbox, site_store()))
    async with httpx.AsyncClient(transport=transport, base_url=PLATFORM) as http:
        settings = {"redirect_uris": [app.redirect_uri], "access_ttl_s": access_ttl_s}
        assert (await http.post("/_sandbox/oauth", json=settings)).status_code == 200
        yield Site(http, sandbox, app)


async def consent(site: Site, authorize_url: str, decision: str = "allow") -> str:
    """The merchant on Squarespace's confirmation page choosing `decision`: where the browser is sent back to."""
    page = await site.http.get(authorize_url)
    assert page.status_code == 200, page.text
    query = dict(parse_qsl(urlsplit(authorize_url).query))
    answer = await site.http.post(AUTH_PATH, data={**query, "decision": decision})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def grant(site: Site, offline: bool = True) -> dict:
    """A grant made directly (consent, then the code exchanged): the tokens endpoint's answer."""
    query = {"client_id": CLIENT_ID, "redirect_uri": site.app.redirect_uri, "scope": "website.orders.read"}
    query |= {"state": "s", **({"access_type": "offline"} if offline else {})}
    back = await consent(site, f"{AUTH_PATH}?{httpx.QueryParams(query)}")
    code = dict(parse_qsl(urlsplit(back).query))["code"]
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": site.app.redirect_uri}
    answer = await site.http.post(TOKEN_PATH, json=body, auth=(CLIENT_ID, CLIENT_SECRET))
    assert answer.status_code == 200, answer.text
    return answer.json()
