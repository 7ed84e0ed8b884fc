"""A merchant installing the Wix app, as a browser does it: our `/connect/wix/start`, the sandbox's installer page
(pick a site, agree), back to our callback. The connector's connect routes and the sandbox run in process; the
browser reaches each by its host.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from connectors.connect.apps import PlatformApp
from connectors.connect.context import ConnectContext, connect_router
from connectors.connect.states import MemoryConnectStates
from connectors.stores import Sealer, StoreRegistry, new_key
from connectors.stores.details import config_of
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.memory import MemoryStoreRegistry
from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.wix import AUTH_PATH, SANDBOX, TOKEN_PATH
from sandboxes.wix_app import APP_ID, APP_SECRET
from schemas import Event
from tests.connectors.stores.wix import STORE

WIX, US = "http://wix.test", "https://connect.test"
PUBLIC_KEY = (Path(__file__).parents[2] / "devstack" / "keys" / "wix_dev_public.pem").read_text()
SITE_A = StoreConfig(
    platform="wix",
    store_id="sandbox-site-a",
    merchant_email="unused@example.com",
    base_url=WIX,
    credentials={**STORE["credentials"], "site_name": "Ada's mugs"},
)


def wix_app(secret: str = APP_SECRET) -> PlatformApp:
    """The app as PERSONALIZE_WIX_* would give it, pointed at the sandbox."""
    return PlatformApp(
        platform="wix",
        client_id=APP_ID,
        client_secret=SecretStr(secret),
        auth_url=WIX + AUTH_PATH,
        token_url=WIX + TOKEN_PATH,
        api_url=WIX,
        base_url=US,
        public_key=PUBLIC_KEY,
    )


@dataclass
class Installing:
    app: PlatformApp
    registry: StoreRegistry
    browser: httpx.AsyncClient
    http: httpx.AsyncClient  # the connector's, to the sandbox's token and identity endpoints
    sandbox: FastAPI
    lifecycle: StoreLifecycle
    events: list[Event] = field(default_factory=list)

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.sandbox)

    async def add_site(self, name: str) -> str:
        """Another site the merchant owns, where the app is not installed yet: its instance id."""
        return str((await self.browser.post(f"{WIX}/_sandbox/sites", json={"name": name})).json()["instance_id"])

    async def sites(self) -> list[dict]:
        return list((await self.browser.get(f"{WIX}/_sandbox/sites")).json()["sites"])

    async def start(self, email: str) -> httpx.Response:
        return await self.browser.get(f"{US}/connect/wix/start", params={"merchant_email": email})

    async def install(self, email: str, instance_id: str, decision: str = "allow") -> httpx.Response:
        """The whole flow; the answer of our callback (or the installer's last page when cancelled)."""
        start = await self.start(email)
        assert start.status_code == 302, start.text
        page = await self.browser.get(start.headers["location"])
        assert page.status_code == 200 and "Agree &amp; Add" in page.text, page.text
        form = dict(hidden_inputs(page.text), instance=instance_id, decision=decision)
        answer = await self.browser.post(WIX + AUTH_PATH, data=form)
        if answer.status_code != 302:
            return answer
        return await self.browser.get(answer.headers["location"])

    async def store(self, store_id: str) -> StoreConfig:
        """The connected store as a connector runs it: the registry's record, its credentials opened."""
        record = await self.registry.get("wix", store_id)
        assert record is not None and record.status == "connected"
        return config_of(record, (await self.registry.credentials("wix", store_id)).values)


def hidden_inputs(html: str) -> list[tuple[str, str]]:
    return [
        (unescape(name), unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', html)
    ]


@asynccontextmanager
async def installing(
    registry: StoreRegistry | None = None, app: PlatformApp | None = None, site: StoreConfig = SITE_A
) -> AsyncIterator[Installing]:
    sandbox = make_sandbox_app(SANDBOX, site)
    app = app or wix_app()
    registry = registry or MemoryStoreRegistry(Sealer([new_key()]))
    events: list[Event] = []

    async def publish(batch: Sequence[Event]) -> None:
        events.extend(batch)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), timeout=5) as http:
        lifecycle = StoreLifecycle(registry, publish)
        ctx = ConnectContext(app, MemoryConnectStates(), lifecycle, registry, http)
        connector = FastAPI()
        router = connect_router(ctx)
        assert router is not None
        connector.include_router(router)
        mounts = {WIX: httpx.ASGITransport(app=sandbox), US: httpx.ASGITransport(app=connector)}
        async with httpx.AsyncClient(mounts=mounts, timeout=5) as browser:
            yield Installing(app, registry, browser, http, sandbox, lifecycle, events)
