"""A store connected through another connector copy gets its first webhooks before this copy has read its
`StoreConnected`: the webhook asks the registry (`StoreRoutes.find` → `RegistryFollower.catch_up`) before
answering 404, once per unknown name in a while, so a flood of made-up ids is not a flood of registry reads.

The connector's real app, routes, follower and in-memory registry; a roster that routes what it starts.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
import pytest

from connectors.etsy import ADAPTER as ETSY
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.platform import PlatformAdapter
from connectors.stores import Sealer, new_key
from connectors.stores.memory import MemoryStoreRegistry
from connectors.stores.roster import RegistryFollower, Roster
from connectors.webhooks import CATCH_UP_EVERY_S, StoreRoutes, make_app
from connectors.woocommerce import ADAPTER as WOO
from plumbing.config import StoreConfig

WOO_CREDENTIALS = {"consumer_key": "ck_1", "consumer_secret": "cs_1", "webhook_secret": "wh_1"}


class RoutingRoster:
    """The roster's part the follower and the webhook see: a started store is routed, a stopped one is not."""

    def __init__(self, routes: StoreRoutes) -> None:
        self.routes = routes
        self.starts: list[str] = []

    def __len__(self) -> int:
        return len(self.starts)

    def running(self, store_id: str) -> bool:
        return self.routes.get(store_id) is not None

    def runs(self, store: StoreConfig) -> bool:
        return self.routes.get(store.store_id) == store

    async def start(self, store: StoreConfig) -> None:
        self.starts.append(store.store_id)
        self.routes.add(store)

    async def stop(self, store_id: str) -> bool:
        return self.routes.remove(store_id) is not None


class CountingRegistry(MemoryStoreRegistry):
    def __init__(self) -> None:
        super().__init__(Sealer([new_key()]))
        self.reads = 0

    async def get(self, platform, store_id):
        self.reads += 1
        return await super().get(platform, store_id)

    async def stores(self, platform=None, *, connected_only=True, changed_since=None):
        self.reads += 1
        return await super().stores(platform, connected_only=connected_only, changed_since=changed_since)


def connector(adapter: PlatformAdapter) -> tuple[CountingRegistry, RoutingRoster, httpx.AsyncClient]:
    registry, routes = CountingRegistry(), StoreRoutes(adapter)
    roster = RoutingRoster(routes)
    follower = RegistryFollower(adapter.name, registry, cast(Roster, roster), {})
    routes.catch_up = follower.catch_up
    intake = cast(Intake, None)  # nothing here is accepted: a ping, or a delivery refused for its signature
    app = make_app(adapter, routes, intake, cast(ThinFetcher, None))
    return registry, roster, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://connector")


async def woo_store(registry: MemoryStoreRegistry, store_id: str) -> None:
    await registry.connect("woocommerce", store_id, "m@example.com", WOO_CREDENTIALS, {"base_url": "https://s.example"})


PING = {"content-type": "application/x-www-form-urlencoded"}
FORGED = {"x-wc-webhook-signature": "AAAA", "x-wc-webhook-topic": "order.created"}


async def test_the_ping_of_a_store_connected_elsewhere_is_answered_200_not_404() -> None:
    registry, roster, http = connector(WOO)
    async with http:
        await woo_store(registry, "fresh")  # connected on another copy; its StoreConnected not read here yet
        ping = await http.post("/webhooks/woocommerce/fresh", content=b"webhook_id=7", headers=PING)
        assert (ping.status_code, ping.text) == (200, "pong")
        assert roster.starts == ["fresh"]
        # Routed from now on: the next delivery reads no registry (a forged one is refused for its signature).
        reads = registry.reads
        forged = await http.post("/webhooks/woocommerce/fresh", content=b"{}", headers=FORGED)
        assert forged.status_code == 401 and registry.reads == reads


async def test_an_unknown_store_is_404_and_asked_of_the_registry_once_in_a_while() -> None:
    registry, roster, http = connector(WOO)
    async with http:
        answers = await asyncio.gather(
            *(http.post("/webhooks/woocommerce/made-up", content=b"webhook_id=1", headers=PING) for _ in range(20))
        )
        assert {a.status_code for a in answers} == {404}
        assert registry.reads == 1, "twenty deliveries at once: one registry read"
        again = await http.post("/webhooks/woocommerce/made-up", content=b"webhook_id=1", headers=PING)
        assert again.status_code == 404 and registry.reads == 1
        # A store disconnected is not started by its late webhooks either.
        await woo_store(registry, "gone")
        await registry.disconnect("woocommerce", "gone", "uninstalled")
        late = await http.post("/webhooks/woocommerce/gone", content=b"webhook_id=1", headers=PING)
        assert late.status_code == 404 and roster.starts == []


async def test_an_unknown_name_is_asked_again_after_the_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    registry, _, http = connector(WOO)
    now = [1000.0]
    monkeypatch.setattr("connectors.webhooks.time.monotonic", lambda: now[0])
    async with http:
        ping = {"content": b"webhook_id=1", "headers": PING}
        assert (await http.post("/webhooks/woocommerce/later", **ping)).status_code == 404
        await woo_store(registry, "later")  # connected just after its first delivery was refused
        now[0] += CATCH_UP_EVERY_S + 0.1
        assert (await http.post("/webhooks/woocommerce/later", **ping)).status_code == 200


async def test_the_registry_away_answers_503_so_the_platform_retries() -> None:
    registry, _, http = connector(WOO)

    async def away(platform, store_id):
        raise ConnectionError("the store registry is unavailable")

    registry.get = away  # type: ignore[method-assign]
    async with http:
        answer = await http.post("/webhooks/woocommerce/any", content=b"webhook_id=1", headers=PING)
        assert answer.status_code == 503 and answer.headers["retry-after"]


async def test_a_per_app_delivery_for_a_shop_connected_elsewhere_finds_it_among_the_lately_connected() -> None:
    registry, roster, http = connector(ETSY)
    old = datetime.now(UTC) - timedelta(hours=1)
    registry._clock = lambda: old  # connected an hour ago, and not running here: not the catch-up's business
    credentials = {"access_token": "t", "refresh_token": "r", "shop_id": "111", "webhook_secret": "whsec_AAAA"}
    await registry.connect("etsy", "old-shop", "m@example.com", credentials, {"base_url": "https://api.etsy.com"})
    registry._clock = lambda: datetime.now(UTC)
    fresh = {**credentials, "shop_id": "222"}
    await registry.connect("etsy", "new-shop", "m@example.com", fresh, {"base_url": "https://api.etsy.com"})
    body = json.dumps({"shop_id": 222, "event_type": "order.paid", "resource_url": "x"}).encode()
    unsigned = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}
    async with http:
        answer = await http.post("/webhooks/etsy", content=body, headers=unsigned)
        assert answer.status_code == 401, "found (and then refused for its signature), not 404"
        assert roster.starts == ["new-shop"]
        other = json.dumps({"shop_id": 999, "event_type": "order.paid"}).encode()
        assert (await http.post("/webhooks/etsy", content=other, headers=unsigned)).status_code == 404
        assert roster.starts == ["new-shop"]
