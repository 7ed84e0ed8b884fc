"""Connecting a WooCommerce store in the browser, against the sandbox's `/wc-auth/v1/authorize` (in process: the
store's key POST and our calls to the store go through ASGI transports, no sockets): the happy path with the keys
arriving before the browser returns, replays refused, Deny, a key POST that did not come from the store, store
URLs refused where they enter."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from connectors.connect.apps import PlatformApp
from connectors.connect.context import ConnectContext, connect_router
from connectors.connect.states import MemoryConnectStates
from connectors.stores import Sealer, new_key
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.memory import MemoryStoreRegistry
from connectors.woocommerce.connect import MAX_KEYS_BYTES
from connectors.woocommerce.store_url import StoreUrlError, normalized
from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.woocommerce import SANDBOX
from schemas import StoreConnected

OURS = "http://127.0.0.1:8400"  # our public address on loopback: dev, so a store on loopback over http is allowed
SHOP = "http://127.0.0.1:9081"
EMAIL = "merchant@example.com"


class Rig:
    """The connector's connect routes, the store's sandbox, and a browser between them."""

    def __init__(self) -> None:
        self.registry = MemoryStoreRegistry(Sealer([new_key()]))
        self.published: list = []

        async def publish(events) -> None:
            self.published += events

        store = StoreConfig(
            platform="woocommerce",
            store_id="sandbox",
            merchant_email="yaml@example.com",
            base_url=SHOP,
            credentials={"consumer_key": "ck_yaml", "consumer_secret": "cs_yaml"},
        )
        self.shop_app = make_sandbox_app(SANDBOX, store)
        self.shop = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.shop_app), base_url=SHOP)
        app = PlatformApp("woocommerce", "personalize", SecretStr(""), "/wc-auth/v1/authorize", "", "", OURS)
        self.ctx = ConnectContext(
            app, MemoryConnectStates(), StoreLifecycle(self.registry, publish), self.registry, self.shop
        )
        connector = FastAPI()
        router = connect_router(self.ctx)
        assert router is not None
        connector.include_router(router)
        self.ours = httpx.AsyncClient(transport=httpx.ASGITransport(app=connector), base_url=OURS)
        self.keys = SANDBOX.keys(self.shop_app.state.sandbox)
        self.keys.post = self._store_posts
        self.delivered: list[tuple[str, bytes, httpx.Response]] = []

    async def _store_posts(self, url: str, body: bytes, headers: dict[str, str]) -> int | str:
        """The store's server-to-server POST to our callback_url."""
        assert url.startswith(OURS)
        answer = await self.ours.post(url.removeprefix(OURS), content=body, headers=headers)
        self.delivered.append((url, body, answer))
        return answer.status_code

    async def start(self, store_url: str = SHOP, email: str = EMAIL) -> dict[str, str]:
        """Our start page: the 302 to the store's authorize page, read back as its query."""
        answer = await self.ours.get(
            "/connect/woocommerce/start", params={"merchant_email": email, "store_url": store_url}
        )
        assert answer.status_code == 302, answer.text
        location = urlsplit(answer.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{SHOP}/wc-auth/v1/authorize"
        return {k: v[0] for k, v in parse_qs(location.query).items()}

    async def consent(self, query: dict[str, str], choice: str) -> str:
        """The merchant on the store's grant page; returns where the browser is sent next."""
        page = await self.shop.get("/wc-auth/v1/authorize", params=query)
        assert page.status_code == 200, page.text
        href = unescape(re.search(rf'href="([^"]+)" class="[^"]*wc-auth-{choice}"', page.text).group(1))
        if choice == "deny":
            return href
        granted = await self.shop.get(href)
        assert granted.status_code == 302, granted.text
        return granted.headers["location"]

    async def back(self, location: str) -> httpx.Response:
        assert location.startswith(f"{OURS}/connect/woocommerce/callback?")
        return await self.ours.get(location.removeprefix(OURS))


@pytest.fixture
def rig() -> Rig:
    return Rig()


async def test_a_merchant_connects_a_store_and_its_keys_arrive_before_the_browser_returns(rig: Rig) -> None:
    query = await rig.start()
    assert query["scope"] == "read_write" and query["app_name"] == "personalize"
    assert query["callback_url"] == f"{OURS}/connect/woocommerce/keys"
    location = await rig.consent(query, "approve")
    # WooCommerce POSTed the keys, we answered 200 and connected the store, and only then was the browser sent back.
    [(_, body, answer)] = rig.delivered
    assert answer.status_code == 200 and json.loads(body)["user_id"] == query["user_id"]
    store_id = "127.0.0.1_9081"
    connected = await rig.registry.get("woocommerce", store_id)
    assert connected is not None and connected.status == "connected" and connected.merchant_email == EMAIL
    assert connected.details == {"base_url": SHOP}
    credentials = (await rig.registry.credentials("woocommerce", store_id)).values
    delivered = json.loads(body)
    assert credentials["consumer_key"] == delivered["consumer_key"]
    assert credentials["consumer_secret"] == delivered["consumer_secret"]
    assert len(credentials["webhook_secret"]) >= 40  # our own, one per store
    assert [type(e) for e in rig.published] == [StoreConnected]
    assert all(delivered["consumer_secret"] not in e.model_dump_json() for e in rig.published)

    page = await rig.back(location)
    assert page.status_code == 200 and "Store connected" in page.text and EMAIL in page.text


async def test_a_replayed_key_delivery_or_return_is_refused(rig: Rig) -> None:
    query = await rig.start()
    location = await rig.consent(query, "approve")
    assert (await rig.back(location)).status_code == 200
    [(_, body, _)] = rig.delivered
    replayed = await rig.ours.post("/connect/woocommerce/keys", content=body)
    assert replayed.status_code == 400 and "unknown, expired or used" in replayed.text
    assert (await rig.back(location)).status_code == 400  # the return ticket is single-use too
    forged = json.loads(body) | {"user_id": "a-state-we-never-issued"}
    assert (await rig.ours.post("/connect/woocommerce/keys", json=forged)).status_code == 400
    assert len(rig.published) == 1


async def test_denied_consent_says_so_and_a_late_key_post_for_that_flow_is_refused(rig: Rig) -> None:
    query = await rig.start()
    location = await rig.consent(query, "deny")
    page = await rig.back(location)
    assert page.status_code == 403 and "Deny" in page.text
    late = {
        "key_id": 9,
        "user_id": query["user_id"],
        "consumer_key": "ck_" + "a" * 40,
        "consumer_secret": "cs_" + "b" * 40,
        "key_permissions": "read_write",
    }
    assert (await rig.ours.post("/connect/woocommerce/keys", json=late)).status_code == 400
    assert rig.delivered == [] and await rig.registry.stores("woocommerce") == [] and rig.published == []


async def test_keys_posted_by_someone_other_than_the_store_connect_nothing(rig: Rig) -> None:
    query = await rig.start()  # an attacker started the flow and read user_id from the redirect ...
    forged = {
        "key_id": 1,
        "user_id": query["user_id"],
        "consumer_key": "ck_" + "a" * 40,  # ... but holds no key of that store
        "consumer_secret": "cs_" + "b" * 40,
        "key_permissions": "read_write",
    }
    answer = await rig.ours.post("/connect/woocommerce/keys", json=forged)
    assert answer.status_code == 400 and "do not work on the store" in answer.text
    assert "cs_bbbb" not in answer.text
    assert await rig.registry.stores("woocommerce") == [] and rig.published == []


async def test_the_browser_back_with_success_but_no_key_post_is_a_clear_failure(rig: Rig) -> None:
    query = await rig.start()
    page = await rig.consent(query, "deny")  # the Deny link, with success forged to 1
    page = page.replace("success=0", "success=1")
    answer = await rig.back(page)
    assert answer.status_code == 502 and "did not reach us" in answer.text
    assert await rig.registry.stores("woocommerce") == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"key_id": 1}',
        json.dumps({"key_id": 1, "user_id": "u", "consumer_key": "ck_x", "consumer_secret": "cs_x"}).encode(),
    ],
    ids=["not-json", "missing-fields", "bad-key"],
)
async def test_a_key_delivery_that_is_not_woocommerces_is_refused_400(rig: Rig, body: bytes) -> None:
    answer = await rig.ours.post("/connect/woocommerce/keys", content=body)
    assert answer.status_code == 400


async def test_an_oversized_key_delivery_is_refused_413_unread(rig: Rig) -> None:
    body = json.dumps({"user_id": "x" * MAX_KEYS_BYTES}).encode()
    assert (await rig.ours.post("/connect/woocommerce/keys", content=body)).status_code == 413


@pytest.mark.parametrize(
    "store_url",
    [
        "",
        "ftp://shop.example.com",
        "http://shop.example.com",
        "https://user:pw@shop.example.com",
        "https://shop.example.com/?page=1",
        "https://shop.example.com/#x",
        "https://10.0.0.5",
        "https://169.254.169.254",
        "https://[::1]",
        "https://localhost",
        "https://intranet",
        "https://shop.example.com/a b",
        "https://" + "a" * 300 + ".com",
    ],
)
def test_a_bad_store_url_is_refused_in_production(store_url: str) -> None:
    with pytest.raises(StoreUrlError):
        normalized(store_url, dev=False)


async def test_a_bad_store_url_is_answered_400_by_the_start_page(rig: Rig) -> None:
    answer = await rig.ours.get(
        "/connect/woocommerce/start", params={"merchant_email": EMAIL, "store_url": "ftp://shop.example.com"}
    )
    assert answer.status_code == 400 and "https://" in answer.text
    no_email = await rig.ours.get("/connect/woocommerce/start", params={"store_url": SHOP})
    assert no_email.status_code == 400 and "merchant_email" in no_email.text


@pytest.mark.parametrize(
    ("given", "url", "store_id"),
    [
        ("Shop.Example.COM/", "https://shop.example.com", "shop.example.com"),
        ("https://shop.example.com:443/shop/", "https://shop.example.com/shop", "shop.example.com~shop"),
        ("https://shop.example.com:8443", "https://shop.example.com:8443", "shop.example.com_8443"),
        ("https://bücher.example", "https://xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_a_store_url_is_normalized_and_names_a_stable_store_id(given: str, url: str, store_id: str) -> None:
    assert normalized(given, dev=False) == (found := normalized(given, dev=False))
    assert (found.url, found.store_id) == (url, store_id)


def test_http_and_https_of_one_site_are_one_store_in_dev() -> None:
    assert (
        normalized("http://127.0.0.1:9081", dev=True).store_id
        == normalized("https://127.0.0.1:9081", dev=True).store_id
    )
