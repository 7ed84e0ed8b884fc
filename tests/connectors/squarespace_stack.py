"""A Squarespace site (the sandbox) and our app registered with it, in this process, for the connect, token,
subscription and uninstall tests: the sandbox is reached through an ASGI transport, whatever host a URL
names; our webhook endpoint (`hooked`) listens on a loopback port, where the sandbox's notifications go."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast
from urllib.parse import parse_qsl, urlsplit

import httpx
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from redis.asyncio import Redis

from connectors.client import PlatformClient
from connectors.connect.apps import PlatformApp
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.squarespace import ADAPTER, client
from connectors.squarespace.oauth import tokens_of
from connectors.squarespace.subscriptions import ensure
from connectors.stores import Sealer, StoreRegistry, new_key
from connectors.stores.details import config_of
from connectors.stores.memory import MemoryStoreRegistry
from connectors.subscriptions import HookHealth, SaveCredentials, registry_writer
from connectors.webhooks import Disconnect, StoreRoutes, make_app
from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.squarespace import AUTH_PATH, TOKEN_PATH, SquarespaceSandbox
from tests.connectors.webhook_app import Recorded
from tests.support import InProcessServer

CLIENT_ID, CLIENT_SECRET = "sq-client-4d1e", "sq-client-secret-9b7a2c"
WEBSITE_ID = "5f3c3d55ac435e1a051f77b3"  # the webhook samples' site
SITE_TITLE = "Ada's <Mugs>"
API_KEY = "sq-configured-api-key"
PLATFORM = "http://squarespace.sandbox"  # login.squarespace.com and api.squarespace.com, both
OURS = "https://connect.example.com"


def platform_app(secret: str = CLIENT_SECRET, platform: str = PLATFORM) -> PlatformApp:
    return PlatformApp(
        platform="squarespace",
        client_id=CLIENT_ID,
        client_secret=SecretStr(secret),
        auth_url=platform + AUTH_PATH,
        token_url=platform + TOKEN_PATH,
        api_url=platform,
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
    transport: httpx.ASGITransport  # for a PlatformClient of our own

    async def oauth_stats(self) -> dict:
        return (await self.http.get("/_sandbox/oauth")).json()


@asynccontextmanager
async def squarespace_site(access_ttl_s: float = 600, served: bool = False) -> AsyncIterator[Site]:
    """The site, in this process; `served`: also on a loopback port, where any HTTP client reaches it."""
    sandbox = SquarespaceSandbox()
    asgi = make_sandbox_app(sandbox, site_store())
    transport, server = httpx.ASGITransport(app=asgi), InProcessServer()
    if served:
        await server.start(asgi)
    app = platform_app(platform=server.url if served else PLATFORM)
    try:
        async with httpx.AsyncClient(transport=None if served else transport, base_url=app.api_url) as http:
            settings = {"redirect_uris": [app.redirect_uri], "access_ttl_s": access_ttl_s}
            assert (await http.post("/_sandbox/oauth", json=settings)).status_code == 200
            yield Site(http, sandbox, app, transport)
    finally:
        if served:
            await server.stop()


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


@dataclass
class Hooked:
    site: Site
    registry: StoreRegistry
    routes: StoreRoutes
    recorded: Recorded
    callback_url: str

    async def store(self) -> StoreConfig:
        record = await self.registry.get("squarespace", WEBSITE_ID)
        assert record is not None
        return config_of(record, (await self.registry.credentials("squarespace", WEBSITE_ID)).values)

    async def follow(self) -> None:
        """What the registry follower does on StoreUpdated: the connector runs the store as the registry has it."""
        self.routes.add(await self.store())

    async def ensure(self, save: SaveCredentials | None = None) -> HookHealth:
        store = await self.store()
        api = PlatformClient("squarespace", PLATFORM, headers=client.headers(store), transport=self.site.transport)
        try:
            writer = registry_writer(self.registry, "squarespace", WEBSITE_ID, then=self.follow)
            return await ensure(api, store, self.callback_url, save=save or writer)
        finally:
            await api.aclose()

    async def sandbox(self) -> dict:
        return (await self.site.http.get("/_sandbox/subscriptions")).json()

    async def place_order(self) -> str:
        return (await self.site.http.post("/_sandbox/orders", json={})).json()["id"]

    async def delivered(self, topic: str, count: int) -> list:
        """The sandbox's notifications of `topic`, once `count` of them were sent."""
        for _ in range(250):
            sent = [s for s in (await self.sandbox())["sent"] if s["topic"] == topic]
            if len(sent) >= count:
                return sent
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {count} {topic} notifications: {await self.sandbox()}")


@asynccontextmanager
async def hooked(registry: StoreRegistry | None = None, disconnect: Disconnect | None = None) -> AsyncIterator[Hooked]:
    """A connected site (OAuth tokens in `registry`, in memory by default) and our webhook endpoint on a
    loopback port, disconnecting through `disconnect` when told the app was uninstalled."""
    async with squarespace_site() as site:
        registry = registry or MemoryStoreRegistry(Sealer([new_key()]))
        credentials = {**tokens_of(await grant(site)), "website_id": WEBSITE_ID}
        await registry.connect("squarespace", WEBSITE_ID, "m@example.com", credentials, {"base_url": PLATFORM})
        recorded, routes = Recorded(), StoreRoutes(ADAPTER)
        intake = Intake(ADAPTER, cast(AIOKafkaProducer, recorded), cast(Redis, None))
        server = InProcessServer()
        await server.start(make_app(ADAPTER, routes, intake, cast(ThinFetcher, recorded), disconnect=disconnect))
        try:
            hooks = Hooked(site, registry, routes, recorded, f"{server.url}/webhooks/squarespace/{WEBSITE_ID}")
            await hooks.follow()
            yield hooks
        finally:
            await server.stop()
