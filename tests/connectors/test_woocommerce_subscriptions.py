"""A WooCommerce store's order webhooks kept by `subscriptions.ensure` against the sandbox, the store's pings
answered by the connector's own webhook route (in process): created once, found again, a disabled one recreated
with its failure count at 0, a stale secret replaced, other apps' webhooks left alone, a revoked key raised."""

from __future__ import annotations

import httpx
import pytest

from connectors.client import PlatformClient
from connectors.errors import GrantRevokedError
from connectors.woocommerce import ADAPTER
from connectors.woocommerce.subscriptions import TOPICS, ensure, name_of
from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.woocommerce import SANDBOX
from tests.connectors.webhook_app import connector_app

BASE = "https://shop.example.com"
STORE = StoreConfig(
    platform="woocommerce",
    store_id="subs-shop",
    merchant_email="m@example.com",
    base_url=BASE,
    credentials={"consumer_key": "ck_subs", "consumer_secret": "cs_subs"},
    webhook_secret="whs-subs-secret",
)
OURS = "https://connect.example.com"
CALLBACK = f"{OURS}/webhooks/woocommerce/{STORE.store_id}"


class Rig:
    def __init__(self, store: StoreConfig = STORE) -> None:
        self.store = store
        shop = make_sandbox_app(SANDBOX, store)
        self.state = shop.state.sandbox
        self.hooks = SANDBOX.hooks(self.state)
        connector, self.recorded = connector_app(ADAPTER, store)
        self.connector = httpx.AsyncClient(transport=httpx.ASGITransport(app=connector), base_url=OURS)
        self.hooks.post = self._deliver
        self.api = PlatformClient(
            "woocommerce", BASE, auth=ADAPTER.auth(store), attempts=1, transport=httpx.ASGITransport(app=shop)
        )

    async def _deliver(self, url: str, body: bytes, headers: dict[str, str]) -> int | str:
        if not url.startswith(OURS):
            return "ConnectError"
        return (await self.connector.post(url.removeprefix(OURS), content=body, headers=headers)).status_code

    def ours(self) -> list:
        return sorted(
            (h for h in self.hooks.hooks.values() if h.delivery_url.rstrip("/") == CALLBACK), key=lambda h: h.topic
        )


@pytest.fixture
def rig() -> Rig:
    return Rig()


@pytest.mark.parametrize("callback", [CALLBACK, CALLBACK + "/"], ids=["plain", "trailing-slash"])
async def test_a_new_store_gets_its_four_order_webhooks_each_pinged_200(rig: Rig, callback: str) -> None:
    health = await ensure(rig.api, rig.store, callback)
    assert set(health.created) == set(TOPICS) and health.healthy and health.repaired
    hooks = rig.ours()
    assert sorted(h.topic for h in hooks) == sorted(TOPICS)
    assert all(h.status == "active" and h.ping_answer == 200 and not h.pending_delivery for h in hooks)
    assert all(h.secret == STORE.webhook_secret and h.name == name_of(h.topic, STORE.webhook_secret) for h in hooks)
    assert rig.recorded.sent == []  # the pings publish nothing

    again = await ensure(rig.api, rig.store, callback)
    assert set(again.found_active) == set(TOPICS) and not again.repaired and again.healthy
    assert len(rig.hooks.hooks) == 4  # nothing made twice


async def test_a_webhook_the_store_disabled_is_recreated_with_a_fresh_failure_count(rig: Rig) -> None:
    await ensure(rig.api, rig.store, CALLBACK)
    created = next(h for h in rig.ours() if h.topic == "order.created")
    created.status, created.failure_count = "disabled", 6  # as WooCommerce leaves it after the 7th failure
    paused = next(h for h in rig.ours() if h.topic == "order.updated")
    paused.status = "paused"

    health = await ensure(rig.api, rig.store, CALLBACK)
    assert set(health.revived) == {"order.created", "order.updated"} and health.repaired
    assert created.id not in rig.hooks.hooks and paused.id not in rig.hooks.hooks  # deleted, after their successors
    fresh = {h.topic: h for h in rig.ours()}
    assert len(fresh) == 4 and fresh["order.created"].failure_count == 0 and fresh["order.created"].status == "active"


async def test_a_webhook_signing_with_an_old_secret_is_replaced_and_other_apps_webhooks_are_left(rig: Rig) -> None:
    await ensure(rig.api, rig.store, CALLBACK)
    before = {h.id for h in rig.ours()}
    other = await rig.api.request_json(
        "POST",
        "/wp-json/wc/v3/webhooks",
        json={"name": "someone else's", "topic": "order.created", "delivery_url": "https://other.example/hook"},
    )
    reconnected = rig.store.model_copy(update={"webhook_secret": "a-new-secret-after-reconnect"})

    health = await ensure(rig.api, reconnected, CALLBACK)
    assert set(health.revived) == set(TOPICS)
    hooks = rig.ours()
    assert {h.id for h in hooks}.isdisjoint(before) and all(h.secret == "a-new-secret-after-reconnect" for h in hooks)
    assert other[0]["id"] in rig.hooks.hooks  # not ours: not touched


async def test_duplicates_of_ours_are_deleted(rig: Rig) -> None:
    await ensure(rig.api, rig.store, CALLBACK)
    spec = {"name": name_of("order.created", STORE.webhook_secret), "topic": "order.created"}
    await rig.api.request_json(
        "POST", "/wp-json/wc/v3/webhooks", json={**spec, "delivery_url": CALLBACK, "secret": STORE.webhook_secret}
    )
    assert len(rig.ours()) == 5
    health = await ensure(rig.api, rig.store, CALLBACK)
    assert len(rig.ours()) == 4 and set(health.found_active) == set(TOPICS)


async def test_a_revoked_key_is_raised_as_a_revoked_grant(rig: Rig) -> None:
    [key] = SANDBOX.keys(rig.state).keys.values()
    key.revoked = True
    with pytest.raises(GrantRevokedError, match="Connect the store again"):
        await ensure(rig.api, rig.store, CALLBACK)


async def test_a_store_without_a_webhook_secret_is_unhealthy_and_nothing_is_created() -> None:
    rig = Rig(STORE.model_copy(update={"webhook_secret": None}))
    health = await ensure(rig.api, rig.store, CALLBACK)
    assert not health.healthy and health.problems and rig.hooks.hooks == {}
