"""Connecting a Squarespace site in the browser, against the sandbox: start → confirmation page → callback,
the code exchanged, the website read, the store connected; and every way it can fail, each a page, none
connecting anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from connectors.connect.context import ConnectContext, connect_router
from connectors.connect.states import MemoryConnectStates
from connectors.squarespace.subscriptions import WANTED
from connectors.stores import Sealer, new_key
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.memory import MemoryStoreRegistry
from schemas import Event, StoreConnected
from tests.connectors.squarespace_stack import (
    CLIENT_ID,
    OURS,
    WEBSITE_ID,
    Site,
    consent,
    grant,
    platform_app,
    squarespace_site,
)

EMAIL = "ada@example.com"


@dataclass
class Flow:
    site: Site
    browser: httpx.AsyncClient  # to our connector
    registry: MemoryStoreRegistry
    published: list[Event]

    async def start(self) -> str:
        answer = await self.browser.get("/connect/squarespace/start", params={"merchant_email": EMAIL})
        assert answer.status_code == 302
        return answer.headers["location"]

    async def callback(self, location: str) -> httpx.Response:
        assert location.startswith(f"{OURS}/connect/squarespace/callback?")
        return await self.browser.get(location)


@asynccontextmanager
async def connecting(
    client_secret: str | None = None, platform: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[Flow]:
    """Our connector's connect routes for the app registered with the sandbox (with another `client_secret`
    if given), talking to the sandbox on its port (or to `platform`, a transport standing in for a broken one)."""
    async with squarespace_site(served=True) as site, httpx.AsyncClient(transport=platform) as http:
        registry, published = MemoryStoreRegistry(Sealer([new_key()])), []

        async def publish(events) -> None:
            published.extend(events)

        app = site.app if client_secret is None else platform_app(client_secret, platform=site.app.api_url)
        ctx = ConnectContext(app, MemoryConnectStates(), StoreLifecycle(registry, publish), registry, http)
        ours = FastAPI()
        router = connect_router(ctx)
        assert router is not None
        ours.include_router(router)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ours), base_url=OURS) as browser:
            yield Flow(site, browser, registry, published)


async def test_a_merchant_connects_a_site_and_the_store_holds_its_tokens() -> None:
    async with connecting() as flow:
        authorize = await flow.start()
        query = dict(parse_qsl(urlsplit(authorize).query))
        assert authorize.startswith(flow.site.app.api_url + "/api/1/login/oauth/provider/authorize?")
        assert query["client_id"] == CLIENT_ID and query["access_type"] == "offline"
        assert query["redirect_uri"] == f"{OURS}/connect/squarespace/callback" and len(query["state"]) >= 32
        page = await flow.callback(await consent(flow.site, authorize))
        assert page.status_code == 200, page.text
        assert "Store connected" in page.text and "Ada&#39;s &lt;Mugs&gt;" in page.text and EMAIL in page.text
        store = await flow.registry.get("squarespace", WEBSITE_ID)
        assert store is not None and store.status == "connected" and store.merchant_email == EMAIL
        assert store.details == {"base_url": flow.site.app.api_url}
        credentials = (await flow.registry.credentials("squarespace", WEBSITE_ID)).values
        hooks = {f"webhook_{kind}:{topic}" for kind in ("secret", "subscription") for topic in WANTED}
        assert set(credentials) == {"access_token", "refresh_token", "expires_at", "website_id"} | hooks
        assert credentials["website_id"] == WEBSITE_ID and int(credentials["expires_at"]) > 0
        # subscribed before the store was written: its first credentials verify its first notification
        listed = (await flow.site.http.get("/_sandbox/subscriptions")).json()["subscriptions"]
        assert {s["endpointUrl"] for s in listed} == {f"{OURS}/webhooks/squarespace/{WEBSITE_ID}"}
        assert {s["id"] for s in listed} == {credentials[f"webhook_subscription:{t}"] for t in WANTED}
        assert [type(e) for e in flow.published] == [StoreConnected]
        assert credentials["access_token"] not in repr(flow.published)
        assert (await flow.site.oauth_stats())["tokens_issued"] == 1


async def test_a_refused_subscriptions_api_still_connects_the_store(caplog: pytest.LogCaptureFixture) -> None:
    async with connecting() as flow:
        other_app = {"Authorization": f"Bearer {(await grant(flow.site))['access_token']}", "User-Agent": "t"}
        for _ in range(25):  # the website's limit, reached by other apps' subscriptions: our creates are refused
            made = {"endpointUrl": "https://elsewhere.example/hook", "topics": ["order.create"]}
            assert (await flow.site.http.post("/1.0/webhook_subscriptions", json=made, headers=other_app)).is_success
        page = await flow.callback(await consent(flow.site, await flow.start()))
        assert page.status_code == 200
        credentials = (await flow.registry.credentials("squarespace", WEBSITE_ID)).values
        assert not any(name.startswith("webhook_") for name in credentials)  # the health schedule makes them
        assert "without all its webhooks" in caplog.text and credentials["access_token"] not in caplog.text


async def test_a_replayed_state_is_refused_and_connects_nothing_more() -> None:
    async with connecting() as flow:
        back = await consent(flow.site, await flow.start())
        assert (await flow.callback(back)).status_code == 200
        replayed = await flow.callback(back)
        assert replayed.status_code == 400 and "already used" in replayed.text
        assert len(flow.published) == 1 and (await flow.site.oauth_stats())["tokens_issued"] == 1


async def test_a_callback_with_a_state_we_never_issued_is_refused() -> None:
    async with connecting() as flow:
        forged = await flow.browser.get("/connect/squarespace/callback", params={"code": "c", "state": "x" * 43})
        assert forged.status_code == 400 and await flow.registry.stores() == []


async def test_denied_consent_shows_a_page_and_connects_nothing() -> None:
    async with connecting() as flow:
        page = await flow.callback(await consent(flow.site, await flow.start(), decision="deny"))
        assert page.status_code == 400 and "chose not to" in page.text
        assert await flow.registry.stores() == [] and flow.published == []


async def test_a_refused_code_exchange_shows_a_page_and_connects_nothing() -> None:
    async with connecting(client_secret="not-our-secret") as flow:
        page = await flow.callback(await consent(flow.site, await flow.start()))
        assert page.status_code == 502 and "invalid_client" in page.text
        assert await flow.registry.stores() == [] and flow.published == []


async def test_an_unreachable_tokens_endpoint_shows_a_page_and_connects_nothing() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with connecting(platform=httpx.MockTransport(refuse)) as flow:
        page = await flow.callback(await consent(flow.site, await flow.start()))
        assert page.status_code == 502 and "could not be reached" in page.text
        assert await flow.registry.stores() == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, text="<html>oops</html>"),
        httpx.Response(400, json={"error": "invalid_grant", "error_description": "code used"}),
        httpx.Response(200, json={"token_type": "bearer"}),  # no token in it
        httpx.Response(200, json={"access_token": "a" * 20}),  # no refresh token: the store would die in 30 min
    ],
    ids=["server-error", "invalid-grant", "no-access-token", "no-refresh-token"],
)
async def test_a_bad_tokens_answer_shows_a_page_and_connects_nothing(answer: httpx.Response) -> None:
    async with connecting(platform=httpx.MockTransport(lambda request: answer)) as flow:
        page = await flow.callback(await consent(flow.site, await flow.start()))
        assert page.status_code == 502 and "Store not connected" in page.text
        assert await flow.registry.stores() == []


async def test_an_identity_answer_without_a_usable_website_id_connects_nothing() -> None:
    async def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokens"):
            return httpx.Response(200, json={"access_token": "at-1", "refresh_token": "rt-1"})
        return httpx.Response(200, json={"id": "../../other-store", "title": "x"})

    async with connecting(platform=httpx.MockTransport(platform)) as flow:
        page = await flow.callback(await consent(flow.site, await flow.start()))
        assert page.status_code == 502 and "which site" in page.text
        assert await flow.registry.stores() == []


async def test_start_without_a_merchant_email_is_refused() -> None:
    async with connecting() as flow:
        answer = await flow.browser.get("/connect/squarespace/start", params={"merchant_email": "not an email"})
        assert answer.status_code == 400 and "merchant_email" in answer.text
