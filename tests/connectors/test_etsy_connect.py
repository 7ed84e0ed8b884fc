"""Connecting an Etsy shop in the browser, against the Etsy sandbox's consent page and token endpoint (in process):
the happy path, and every way the flow must refuse and connect nothing."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from connectors.connect.context import ConnectContext, connect_router
from connectors.connect.states import STATE_TTL_S, MemoryConnectStates
from connectors.stores import Sealer, new_key
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.memory import MemoryStoreRegistry
from sandboxes.base import make_sandbox_app
from sandboxes.etsy import EtsySandbox
from schemas import Event, StoreConnected
from tests.connectors.etsy_oauth import (
    EMAIL,
    KEYSTRING,
    OUR_BASE,
    SHARED_SECRET,
    app_at,
    connect_by_hand,
    consent,
    query_of,
    sandbox_shop,
    start,
)

SHOP = "55501234"
SANDBOX = "http://etsy.sandbox"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Flow:
    browser: httpx.AsyncClient  # the merchant's browser at our connector
    etsy: httpx.AsyncClient  # the same browser at Etsy (and our connector's client to Etsy's API)
    registry: MemoryStoreRegistry
    published: list[Event]
    clock: Clock
    oauth: object
    states: MemoryConnectStates

    def stats(self) -> dict:
        return vars(self.oauth.stats)


async def build(
    shop_id: str = SHOP, registry: MemoryStoreRegistry | None = None, webhook_secret: str | None = None
) -> AsyncIterator[Flow]:
    sandbox = make_sandbox_app(EtsySandbox(), sandbox_shop(shop_id))
    app = app_at(SANDBOX)
    if webhook_secret is not None:
        app = dataclasses.replace(app, webhook_secret=SecretStr(webhook_secret))
    registry = registry or MemoryStoreRegistry(Sealer([new_key()]))
    published: list[Event] = []

    async def publish(events: Sequence[Event]) -> None:
        published.extend(events)

    clock = Clock()
    states = MemoryConnectStates(clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url=SANDBOX) as etsy:
        await etsy.post("/_sandbox/oauth", json={"redirect_uris": [app.redirect_uri], "access_ttl_s": 3600})
        ctx = ConnectContext(app, states, StoreLifecycle(registry, publish), registry, etsy)
        connector = FastAPI()
        router = connect_router(ctx)
        assert router is not None
        connector.include_router(router)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=connector), base_url=OUR_BASE) as browser:
            yield Flow(browser, etsy, registry, published, clock, sandbox.state.sandbox.oauth, states)


@pytest.fixture
async def flow() -> AsyncIterator[Flow]:
    async for built in build():
        yield built


async def nothing_connected(flow: Flow) -> None:
    assert await flow.registry.stores("etsy", connected_only=False) == [] and flow.published == []


async def test_a_merchant_connects_their_shop_through_etsys_consent(flow: Flow) -> None:
    started = await start(flow.browser)
    assert started.status_code == 302
    asked = query_of(started.headers["location"])
    assert started.headers["location"].startswith(f"{SANDBOX}/oauth/connect?")
    assert asked["client_id"] == KEYSTRING and asked["redirect_uri"] == f"{OUR_BASE}/connect/etsy/callback"
    assert set(asked["scope"].split()) == {"transactions_r", "shops_r"}
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43

    page = await flow.browser.get(await consent(flow.etsy, started.headers["location"]))

    assert page.status_code == 200 and "Store connected" in page.text
    assert "Mugs &amp; More" in page.text and EMAIL in page.text  # the shop's name from getShop, escaped
    [store] = await flow.registry.stores("etsy")
    assert (store.store_id, store.merchant_email, store.details) == (SHOP, EMAIL, {"base_url": SANDBOX})
    credentials = (await flow.registry.credentials("etsy", SHOP)).values
    assert credentials["keystring"] == KEYSTRING and credentials["shared_secret"] == SHARED_SECRET
    assert credentials["shop_id"] == SHOP and credentials["access_token"].startswith(f"{int(SHOP) + 1}.")
    assert int(credentials["expires_at"]) - flow.clock.now > 0  # a real unix time, an hour ahead
    assert [type(e) for e in flow.published] == [StoreConnected]
    headers = {"x-api-key": f"{KEYSTRING}:{SHARED_SECRET}", "authorization": f"Bearer {credentials['access_token']}"}
    assert (await flow.etsy.get(f"/v3/application/shops/{SHOP}/receipts", headers=headers)).status_code == 200
    for secret in (credentials["access_token"], credentials["refresh_token"], SHARED_SECRET):
        assert secret not in page.text and secret not in started.headers["location"]


async def test_a_connected_shop_verifies_webhooks_with_the_apps_endpoint_secret() -> None:
    """Etsy signs every shop's deliveries with the app's one secret: a shop connected without it would refuse
    every webhook; with PERSONALIZE_ETSY_WEBHOOK_SECRET it keeps it, and its page never shows it."""
    secret = "whsec_" + base64.b64encode(b"etsy-endpoint-secret-0123456789ab").decode()
    async for flow in build(webhook_secret=secret):
        page = await flow.browser.get(await consent(flow.etsy, (await start(flow.browser)).headers["location"]))
        assert page.status_code == 200 and secret not in page.text
        assert (await flow.registry.credentials("etsy", SHOP)).values["webhook_secret"] == secret
    async for flow in build():
        await flow.browser.get(await consent(flow.etsy, (await start(flow.browser)).headers["location"]))
        assert "webhook_secret" not in (await flow.registry.credentials("etsy", SHOP)).values  # polled only


async def test_the_pkce_verifier_stays_with_us_and_its_s256_digest_is_the_challenge(flow: Flow) -> None:
    started = await start(flow.browser)
    asked = query_of(started.headers["location"])
    remembered = await flow.states.take("etsy", asked["state"])
    assert remembered is not None and remembered["merchant_email"] == EMAIL
    verifier = remembered["code_verifier"]
    assert 43 <= len(verifier) <= 128 and verifier not in started.headers["location"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert asked["code_challenge"] == digest
    other = query_of((await start(flow.browser)).headers["location"])
    assert other["state"] != asked["state"] and other["code_challenge"] != asked["code_challenge"]


async def test_a_callback_replayed_with_its_state_is_refused(flow: Flow) -> None:
    started = await start(flow.browser)
    back = await consent(flow.etsy, started.headers["location"])
    assert (await flow.browser.get(back)).status_code == 200
    again = await flow.browser.get(back)
    assert again.status_code == 400 and "already used, has expired" in again.text
    [store] = await flow.registry.stores("etsy")
    assert store.credentials_version == 1 and len(flow.published) == 1


async def test_an_expired_state_is_refused_and_its_code_never_exchanged(flow: Flow) -> None:
    started = await start(flow.browser)
    back = await consent(flow.etsy, started.headers["location"])
    flow.clock.now += STATE_TTL_S + 1
    answer = await flow.browser.get(back)
    assert answer.status_code == 400 and "already used, has expired" in answer.text
    await nothing_connected(flow)
    assert flow.stats()["tokens_issued"] == 0


async def test_a_code_injected_from_another_pkce_challenge_is_refused(flow: Flow) -> None:
    """An attacker's code (consented with the attacker's own challenge) posted to our callback with a real state:
    Etsy refuses our verifier for it, so the attacker's shop is not connected under the merchant's email."""
    started = await start(flow.browser)
    attacker = secrets.token_urlsafe(48)
    theirs = base64.urlsafe_b64encode(hashlib.sha256(attacker.encode()).digest()).rstrip(b"=").decode()
    back = await consent(flow.etsy, started.headers["location"], code_challenge=theirs)
    answer = await flow.browser.get(back)
    assert answer.status_code == 400 and "did not accept the sign-in" in answer.text
    await nothing_connected(flow)
    assert flow.stats()["refused"] == ["invalid_grant: code_verifier does not match the code_challenge"]


async def test_a_denied_consent_connects_nothing(flow: Flow) -> None:
    started = await start(flow.browser)
    back = await consent(flow.etsy, started.headers["location"], decision="deny")
    assert query_of(back)["error"] == "access_denied"
    answer = await flow.browser.get(back)
    assert answer.status_code == 403 and "not granted" in answer.text and "Allow access" in answer.text
    await nothing_connected(flow)
    assert (await flow.browser.get(back)).status_code == 400  # its state was spent by the refusal


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b@example.com", "x" * 300 + "@example.com"])
async def test_a_bad_merchant_email_is_a_400_and_goes_nowhere(flow: Flow, email: str) -> None:
    answer = await start(flow.browser, email)
    assert answer.status_code == 400 and "location" not in answer.headers
    assert "merchant_email" in answer.text


async def test_a_callback_with_no_or_a_forged_state_is_refused(flow: Flow) -> None:
    for query in ({"code": "abc"}, {"code": "abc", "state": secrets.token_urlsafe(32)}, {"state": "x" * 5000}):
        answer = await flow.browser.get("/connect/etsy/callback", params=query)
        assert answer.status_code == 400 and "already used, has expired" in answer.text
    await nothing_connected(flow)


async def test_a_callback_with_a_malformed_code_is_refused_without_asking_etsy(flow: Flow) -> None:
    started = await start(flow.browser)
    state = query_of(started.headers["location"])["state"]
    answer = await flow.browser.get("/connect/etsy/callback", params={"state": state, "code": "a b<script>"})
    assert answer.status_code == 400 and "no usable authorization code" in answer.text
    assert flow.stats()["refused"] == [] and flow.stats()["tokens_issued"] == 0
    await nothing_connected(flow)


async def test_an_account_without_a_shop_is_told_so() -> None:
    async for flow in build(shop_id=""):
        page = await connect_by_hand(flow.browser, flow.etsy)
        assert page.status_code == 400 and "has no shop" in page.text
        await nothing_connected(flow)


class BrokenRegistry(MemoryStoreRegistry):
    async def connect(self, *args: object, **kwargs: object):  # type: ignore[override]
        raise ConnectionError("PostgreSQL is away")


async def test_a_registry_that_is_away_answers_a_page_not_a_500() -> None:
    async for flow in build(registry=BrokenRegistry(Sealer([new_key()]))):
        page = await connect_by_hand(flow.browser, flow.etsy)
        assert page.status_code == 503 and "Try again" in page.text
        assert flow.published == []


async def test_a_token_endpoint_that_fails_answers_a_page_and_connects_nothing(flow: Flow) -> None:
    started = await start(flow.browser)
    back = await consent(flow.etsy, started.headers["location"])
    await flow.etsy.post("/_sandbox/oauth", json={"redirect_uris": [], "client_id": "another-app"})
    page = await flow.browser.get(back)  # Etsy now answers invalid_client (401) to our keystring
    assert page.status_code == 400 and "did not accept the sign-in (invalid_client)" in page.text
    await nothing_connected(flow)
    assert urlsplit(back).path == "/connect/etsy/callback"
