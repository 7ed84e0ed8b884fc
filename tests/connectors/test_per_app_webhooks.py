"""Per-app webhooks (Wix, Etsy): one callback URL serves every site or shop of the app, so the delivery names its
store (Wix `instanceId` in the verified JWT, Etsy `shop_id` in the signed body) and is that store's only.

Two sites (shops) on one app: one key signs for both, each store has its own platform id. Deliveries are built by
the platform sandboxes (fakes written from the platforms' docs), posted to the connector's app as the platform
would, and what the intake publishes (to a producer that records) or queues is read back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from redis.asyncio import Redis

from connectors.etsy import ADAPTER as ETSY
from connectors.intake import Intake
from connectors.platform import PlatformAdapter
from connectors.webhooks import StoreRoutes, make_app, routing_index
from connectors.wix import ADAPTER as WIX
from plumbing.config import StoreConfig
from plumbing.settings import SettingsError
from sandboxes.base import OrderSpec, SandboxState
from sandboxes.etsy import SANDBOX as ETSY_SANDBOX
from sandboxes.wix import SANDBOX as WIX_SANDBOX
from schemas import OrderReceived, decode
from tests.connectors.stacks import STORES, running_stack
from tests.connectors.stores.etsy import STORE as ETSY_E2E
from tests.connectors.stores.wix import STORE as WIX_E2E
from tests.support import Recorder, unique_id

NINETY_DAYS_S = 90 * 86400
WIX_APP_KEY = Path(__file__).parents[2] / "devstack" / "keys" / "wix_dev_private.pem"  # the sandbox app's key


def wix_site(store_id: str, instance_id: str) -> StoreConfig:
    """A site with the app installed: the app's public key (the sandbox signs with its private half)."""
    return StoreConfig(
        platform="wix",
        store_id=store_id,
        merchant_email=f"{store_id}@example.com",
        base_url="https://www.wixapis.com",
        credentials={"api_key": "IST.k", "site_id": f"site-of-{store_id}", "instance_id": instance_id},
        webhook_secret=WIX_E2E["webhook_secret"],
    )


def etsy_shop(store_id: str, shop_id: str) -> StoreConfig:
    """A shop that authorized the app: the app's one endpoint secret."""
    return StoreConfig(
        platform="etsy",
        store_id=store_id,
        merchant_email=f"{store_id}@example.com",
        base_url="https://api.etsy.com",
        credentials={**ETSY_E2E["credentials"], "shop_id": shop_id},
        webhook_secret=ETSY_E2E["webhook_secret"],
    )


class RecordingProducer:
    """The intake's producer: keeps what would go to Kafka."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> asyncio.Future:
        self.sent.append((topic, value))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def orders(self) -> list[OrderReceived]:
        return [e for e in (decode(t, v) for t, v in self.sent) if isinstance(e, OrderReceived)]


@dataclass
class RecordingFetcher:
    queued: list[tuple[str, str]] = field(default_factory=list)

    def enqueue(self, store: StoreConfig, order_id: str) -> bool:
        self.queued.append((store.key, order_id))
        return True


class RefusingIntake:
    """Where a delivery must be refused before anything is read: any use of the intake fails the test."""

    async def accept(self, *args: Any, **kwargs: Any) -> list:
        raise AssertionError("a refused delivery reached the intake")

    async def dead_letter(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a refused delivery reached the intake")


@dataclass
class App:
    http: httpx.AsyncClient
    producer: RecordingProducer
    fetcher: RecordingFetcher

    async def post(self, url: str, delivery: tuple[dict[str, str], bytes]) -> httpx.Response:
        headers, body = delivery
        return await self.http.post(url, content=body, headers=headers)


async def serving(adapter: PlatformAdapter, stores: list[StoreConfig], intake: Any) -> AsyncIterator[App]:
    producer, fetcher = RecordingProducer(), RecordingFetcher()
    if intake is None:
        intake = RefusingIntake()
    elif isinstance(intake, Redis):
        intake = Intake(adapter, producer, intake)
    app = make_app(adapter, {s.store_id: s for s in stores}, intake, fetcher)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://connector") as http:
        yield App(http, producer, fetcher)


# --- Wix -------------------------------------------------------------------------------------------------------


@pytest.fixture
def sites() -> tuple[StoreConfig, StoreConfig]:
    run = unique_id()  # the session's Redis remembers orders seen: each test's stores are new
    return wix_site(f"site-a-{run}", f"inst-a-{run}"), wix_site(f"site-b-{run}", f"inst-b-{run}")


@pytest.fixture
async def wix_refusing(sites) -> AsyncIterator[App]:
    async for app in serving(WIX, list(sites), None):
        yield app


@pytest.fixture
async def wix_app(sites, redis_url) -> AsyncIterator[App]:
    redis = Redis.from_url(redis_url)
    async for app in serving(WIX, list(sites), redis):
        yield app
    await redis.aclose()


def wix_order(site: StoreConfig) -> tuple[SandboxState, dict]:
    state = SandboxState(store=site)
    raw = WIX_SANDBOX.new_order(state, OrderSpec())
    state.orders[raw["id"]] = raw
    return state, raw


async def test_a_90_day_old_jwt_of_site_a_posted_to_site_b_is_refused(wix_refusing: App, sites) -> None:
    """The reproduced finding: accepted as B's order before. Refused for its age and for naming another site."""
    a, b = sites
    state, raw = wix_order(a)
    old = WIX_SANDBOX.webhook_in_form(state, raw, "created", "entity", issued_at=int(time.time()) - NINETY_DAYS_S)
    fresh = WIX_SANDBOX.webhook(state, raw, "created", thin=False)
    for url, delivery in [
        (f"/webhooks/wix/{b.store_id}", old),
        (f"/webhooks/wix/{b.store_id}", fresh),  # young, but site A's: never B's order
        (f"/webhooks/wix/{a.store_id}", old),  # site A's own, but a replay
        ("/webhooks/wix", old),
    ]:
        answer = await wix_refusing.post(url, delivery)
        assert (answer.status_code, answer.text) == (401, "invalid signature"), url


async def test_a_jwt_without_iat_is_refused_on_either_url(wix_refusing: App, sites) -> None:
    a, _ = sites
    state, raw = wix_order(a)
    _, body = WIX_SANDBOX.webhook(state, raw, "created", thin=False)
    claims = jwt.decode(body, options={"verify_signature": False})
    timeless = jwt.encode(
        {"data": claims["data"]}, WIX_APP_KEY.read_text(), algorithm="RS256"
    ).encode()  # no iat, no exp: forever
    for url in (f"/webhooks/wix/{a.store_id}", "/webhooks/wix"):
        answer = await wix_refusing.post(url, ({"Content-Type": "text/plain"}, timeless))
        assert answer.status_code == 401


async def test_two_wix_sites_on_one_app_each_get_their_own_orders(wix_app: App, sites) -> None:
    a, b = sites
    (state_a, raw_a), (state_b, raw_b) = wix_order(a), wix_order(b)
    for state, raw in ((state_a, raw_a), (state_b, raw_b)):
        answer = await wix_app.post("/webhooks/wix", WIX_SANDBOX.webhook(state, raw, "created", thin=False))
        assert (answer.status_code, answer.text) == (200, "ok")
    assert sorted(o.order_key for o in wix_app.producer.orders()) == sorted(
        [f"wix:{a.store_id}:{raw_a['id']}", f"wix:{b.store_id}:{raw_b['id']}"]
    )


async def test_the_per_store_url_keeps_working_for_the_store_s_own_site(wix_app: App, sites) -> None:
    a, _ = sites
    state, raw = wix_order(a)
    answer = await wix_app.post(f"/webhooks/wix/{a.store_id}", WIX_SANDBOX.webhook(state, raw, "updated", thin=False))
    assert (answer.status_code, answer.text) == (200, "ok")
    assert [o.order_key for o in wix_app.producer.orders()] == [f"wix:{a.store_id}:{raw['id']}"]


async def test_wix_is_answered_200_not_202_when_the_order_is_queued_or_dead_lettered(wix_app: App, sites) -> None:
    """Wix resends anything but a 200 (its resend policy), for hours."""
    a, _ = sites
    state, _ = wix_order(a)
    thin = WIX_SANDBOX.sign_raw(
        state, b'{"id": "e", "entityFqdn": "wix.ecom.v1.order", "slug": "canceled", "entityId": "o-1"}', "canceled"
    )
    assert ((answer := await wix_app.post("/webhooks/wix", thin)).status_code, answer.text) == (200, "accepted")
    assert wix_app.fetcher.queued == [(a.key, "o-1")]
    unreadable = WIX_SANDBOX.sign_raw(state, b'{"unexpected": true}', "created")
    answer = await wix_app.post("/webhooks/wix", unreadable)
    assert (answer.status_code, answer.text) == (200, "accepted into dead-letters")


async def test_a_wix_delivery_of_a_site_not_connected_here_is_404(wix_refusing: App) -> None:
    stranger = wix_site("stranger", "inst-stranger")
    state, raw = wix_order(stranger)
    answer = await wix_refusing.post("/webhooks/wix", WIX_SANDBOX.webhook(state, raw, "created", thin=False))
    assert answer.status_code == 404
    assert (await wix_refusing.post("/webhooks/wix", ({}, b"not a jwt"))).status_code == 404


# --- Etsy ------------------------------------------------------------------------------------------------------


@pytest.fixture
async def etsy_app() -> AsyncIterator[App]:
    # Etsy's webhooks name a receipt only: the fetcher is queued, the intake is not reached.
    async for app in serving(ETSY, [etsy_shop("shop-a", "111"), etsy_shop("shop-b", "222")], None):
        yield app


def etsy_delivery(shop: StoreConfig) -> tuple[str, tuple[dict[str, str], bytes]]:
    state = SandboxState(store=shop)
    raw = ETSY_SANDBOX.new_order(state, OrderSpec())
    return str(raw["receipt_id"]), ETSY_SANDBOX.webhook(state, raw, "created", thin=True)


async def test_two_etsy_shops_on_one_app_each_get_their_own_orders(etsy_app: App) -> None:
    (receipt_a, delivery_a), (receipt_b, delivery_b) = (
        etsy_delivery(etsy_shop(s, i)) for s, i in [("a", "111"), ("b", "222")]
    )
    for delivery in (delivery_a, delivery_b):
        answer = await etsy_app.post("/webhooks/etsy", delivery)
        assert (answer.status_code, answer.text) == (200, "accepted")
    assert etsy_app.fetcher.queued == [("etsy:shop-a", receipt_a), ("etsy:shop-b", receipt_b)]


async def test_an_etsy_delivery_of_shop_a_at_shop_b_s_url_fetches_nothing(etsy_app: App) -> None:
    _, delivery = etsy_delivery(etsy_shop("a", "111"))
    answer = await etsy_app.post("/webhooks/etsy/shop-b", delivery)
    assert answer.status_code == 200 and "not of this store's shop 222" in answer.text
    assert etsy_app.fetcher.queued == []


async def test_an_etsy_delivery_of_a_shop_not_connected_here_is_404(etsy_app: App) -> None:
    _, delivery = etsy_delivery(etsy_shop("stranger", "999"))
    assert (await etsy_app.post("/webhooks/etsy", delivery)).status_code == 404
    assert etsy_app.fetcher.queued == []


# --- a connector process ------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["wix", "etsy"])
async def test_the_connector_process_serves_the_app_url(
    platform: str, bootstrap, redis_url, topics, recorder: Recorder, tmp_path
) -> None:
    """`personalize connector <platform>` answers the app-wide URL: the sandbox posts there, the order arrives."""
    store_id = f"app-url-{unique_id()}"
    async with running_stack(platform, tmp_path, bootstrap, redis_url, store_id=store_id) as stack:
        app_url = f"http://127.0.0.1:{stack.connector_port}/webhooks/{platform}"
        await stack.webhooks(url=app_url, enabled=True)
        placed = await stack.place(items=[{**STORES[platform]["item"], "buyer_text": "Ada"}], webhook=False)
        assert await stack.redeliver(placed["id"], event="created") == [200]
        await recorder.wait_for(stack.order_key(placed["id"]), lambda events: len(events) >= 1)


# --- the index ------------------------------------------------------------------------------------------------


def test_two_stores_with_one_platform_id_are_refused_at_start() -> None:
    twins = {s.store_id: s for s in (wix_site("one", "inst"), wix_site("two", "inst"))}
    with pytest.raises(SettingsError, match="same wix store"):
        routing_index(WIX, twins)


# --- the routes, changed while the connector runs (stores connected and disconnected) --------------------------


def test_a_store_added_at_run_time_is_routed_by_its_platform_id_and_removed_completely() -> None:
    routes = StoreRoutes(WIX)
    site = wix_site("one", "inst-1")
    routes.add(site)
    assert routes.get("one") is site and routes.by_routing_id("inst-1") is site
    assert routes.remove("one") is site
    assert routes.get("one") is None and routes.by_routing_id("inst-1") is None


def test_a_second_store_claiming_a_routed_platform_id_is_refused_and_the_first_keeps_it() -> None:
    routes = StoreRoutes(WIX, {"one": wix_site("one", "inst")})
    with pytest.raises(SettingsError, match="same wix store"):
        routes.add(wix_site("two", "inst"))
    assert routes.by_routing_id("inst").store_id == "one" and routes.get("two") is None


def test_a_store_moved_to_another_platform_id_no_longer_answers_to_the_old_one() -> None:
    routes = StoreRoutes(WIX)
    routes.add(wix_site("one", "old"))
    routes.add(wix_site("one", "new"))
    assert routes.by_routing_id("old") is None and routes.by_routing_id("new").store_id == "one"
