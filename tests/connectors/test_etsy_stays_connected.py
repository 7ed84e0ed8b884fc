"""An Etsy shop connected in the browser stays connected: two connector copies poll and fetch it across many
seconds-long token lifetimes, sharing Redis and the registry in PostgreSQL; a revoked grant disconnects it.

Each copy is the connector's own pieces (roster, poller, thin-webhook fetcher, intake, token keeper) as
`connectors.main` wires them, on the session's broker, Redis and PostgreSQL; the sandbox is a real HTTP server.
The `stores` topic is stood in for by the lifecycle's publish: each copy's follower reads the registry on every
event, as the topic's consumer would.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from psycopg import AsyncConnection
from redis.asyncio import Redis

from connectors.client import PlatformClient
from connectors.connect.context import ConnectContext, connect_router
from connectors.connect.states import RedisConnectStates
from connectors.etsy import ADAPTER
from connectors.etsy import tokens as etsy_tokens
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.main import client_for, open_registry
from connectors.settings import RegistrySettings
from connectors.stores import new_key
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.postgres import PostgresStoreRegistry
from connectors.stores.roster import RegistryFollower, Roster
from connectors.tokens import TokenKeeper
from connectors.tokens_locks import RedisRefreshLocks
from connectors.webhooks import StoreRoutes
from plumbing.kafka import publish
from sandboxes.base import make_sandbox_app
from sandboxes.etsy import EtsySandbox
from schemas import Event, OrderReceived, StoreDisconnected
from tests.connectors.etsy_oauth import OUR_BASE, app_at, connect_by_hand, sandbox_shop
from tests.support import InProcessServer

LIFETIME_S = 3.0  # an access token's, in the sandbox
MARGIN_S = 1.0  # renewed this long before it expires
POLL = "300ms"


@dataclass
class Copy:
    roster: Roster
    fetcher: ThinFetcher
    follower: RegistryFollower
    routes: StoreRoutes


@dataclass
class Shop:
    shop_id: str
    sandbox: InProcessServer
    registry: PostgresStoreRegistry
    copies: list[Copy]
    published: list[Event]
    http: httpx.AsyncClient  # to the sandbox: placing orders, reading its stats

    @property
    def state(self):  # the sandbox's
        return self.sandbox.app.state.sandbox

    def stats(self):
        return self.state.oauth.stats


@contextlib.asynccontextmanager
async def running_shop(postgres, redis_url: str, producer) -> AsyncIterator[Shop]:
    shop_id = str(random.randint(10_000_000, 99_999_999))
    sandbox = InProcessServer()
    await sandbox.start(make_sandbox_app(EtsySandbox(), sandbox_shop(shop_id)))
    app = app_at(sandbox.url)
    redis = Redis.from_url(redis_url)
    published: list[Event] = []
    copies: list[Copy] = []
    following: set[asyncio.Task] = set()
    settings = RegistrySettings(database_url=postgres.url, credentials_key=new_key())
    async with (
        open_registry(settings) as registry,
        httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http,
        httpx.AsyncClient(timeout=10) as token_http,
    ):

        async def announce(events: Sequence[Event]) -> None:
            await publish(producer, events)
            published.extend(events)
            for event in events:  # what each copy's `stores` consumer does, off the publisher's task
                for copy in copies:
                    task = asyncio.create_task(copy.follower.follow(event.store_id))
                    following.add(task)
                    task.add_done_callback(following.discard)

        lifecycle = StoreLifecycle(registry, announce)
        await http.post("/_sandbox/oauth", json={"redirect_uris": [app.redirect_uri], "access_ttl_s": LIFETIME_S})
        await http.post("/_sandbox/webhooks", json={"enabled": False})  # deliveries are stood in for: see below

        # The merchant connects the shop in the browser.
        ctx = ConnectContext(app, RedisConnectStates(redis), lifecycle, registry, token_http)
        connector = FastAPI()
        connector.include_router(connect_router(ctx))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=connector), base_url=OUR_BASE) as browser:
            page = await connect_by_hand(browser, http)
        assert page.status_code == 200, page.text
        # The operator polls it often (the test's seconds); the registry write is the one `stores connect` makes.
        kept = await registry.get("etsy", shop_id)
        credentials = await registry.credentials("etsy", shop_id)
        await registry.connect(
            "etsy", shop_id, kept.merchant_email, credentials.values, {**kept.details, "poll_interval": POLL}
        )

        for _ in range(2):
            keeper = TokenKeeper(
                app, registry, lifecycle, RedisRefreshLocks(redis), token_http, etsy_tokens.refresh, margin_s=MARGIN_S
            )
            clients: dict[str, PlatformClient] = {}
            intake, routes = Intake(ADAPTER, producer, redis), StoreRoutes(ADAPTER)
            roster = Roster(
                ADAPTER,
                intake,
                redis,
                routes,
                clients,
                lambda store, keeper=keeper: client_for(ADAPTER, store, keeper),
                forget=keeper.forget,
            )
            fetcher = ThinFetcher(ADAPTER, intake, clients, workers=2)
            fetcher.start()
            copy = Copy(roster, fetcher, RegistryFollower("etsy", registry, roster, {}), routes)
            assert await copy.follower.start() == 1
            copies.append(copy)
        try:
            yield Shop(shop_id, sandbox, registry, copies, published, http)
        finally:
            for copy in copies:
                await copy.roster.run_until(_set())
                await copy.fetcher.stop()
            await asyncio.gather(*following, return_exceptions=True)
            await redis.aclose()
            await sandbox.stop()


def _set() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


async def place_order(shop: Shop) -> str:
    return (await shop.http.post("/_sandbox/orders", json={"webhook": False})).json()["id"]


async def eventually(check, what: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_an_etsy_shop_keeps_polling_and_fetching_across_many_token_lifetimes_with_two_copies(
    postgres, redis_url, producer, recorder
) -> None:
    async with running_shop(postgres, redis_url, producer) as shop:
        started, orders = time.monotonic(), []
        # Given orders placed throughout five lifetimes and more, each announced (a thin webhook, delivered twice)
        # to both copies at once, which fetch it, while the copies poll:
        while time.monotonic() - started < 5.5 * LIFETIME_S:
            order_id = await place_order(shop)
            orders.append(order_id)
            for copy in shop.copies:
                store = copy.routes.get(shop.shop_id)
                assert store is not None and copy.fetcher.enqueue(store, order_id)
            await asyncio.sleep(0.25)
        elapsed = time.monotonic() - started

        async def all_read() -> bool:
            return all(recorder.events(f"etsy:{shop.shop_id}:{o}", OrderReceived) for o in orders)

        await eventually(all_read, "every order to be read")
        await asyncio.sleep(1.0)  # a few more polls: any second publication of an order would show now
        stats = shop.stats()
        kept = await shop.registry.get("etsy", shop.shop_id)
        print(f"{len(orders)} orders over {elapsed:.1f}s; refreshes {stats.refreshes}, ages {stats.refreshed_ages_s}")

    # Then every order was read once, by poll or fetch, whichever came first,
    assert [len(recorder.events(f"etsy:{shop.shop_id}:{o}", OrderReceived)) for o in orders] == [1] * len(orders)
    # with exactly one refresh per token lifetime: none twice (a second use of a spent refresh token), none
    # long before its token was due (Etsy's seconds, rounded down, make it at most a second early),
    assert stats.reused_refresh == 0 and stats.refused == []
    assert stats.refreshes >= 5 and stats.refresh_attempts == stats.refreshes
    assert stats.refreshes <= elapsed / (LIFETIME_S - MARGIN_S - 1) + 2
    assert min(stats.refreshed_ages_s) >= LIFETIME_S - MARGIN_S - 1 - 0.2, stats.refreshed_ages_s
    # and each rotated refresh token written to the registry once, before its access token was used.
    assert kept is not None and kept.credentials_version == 2 + stats.refreshes
    assert stats.tokens_issued == 1 + stats.refreshes
    assert shop.published and not [e for e in shop.published if isinstance(e, StoreDisconnected)]


async def test_a_revoked_grant_disconnects_the_shop_and_nothing_more_reaches_etsy(
    postgres, redis_url, producer, recorder
) -> None:
    async with running_shop(postgres, redis_url, producer) as shop:
        order_id = await place_order(shop)
        await eventually(
            lambda: _true(bool(recorder.events(f"etsy:{shop.shop_id}:{order_id}", OrderReceived))), "the first order"
        )
        # When the seller removes the app (Etsy revokes every token of the grant):
        await shop.http.post("/_sandbox/oauth/revoke")
        key = f"etsy:{shop.shop_id}"
        await recorder.wait_for(key, lambda es: any(isinstance(e, StoreDisconnected) for e in es), 30)
        await eventually(lambda: _true(all(len(c.roster) == 0 for c in shop.copies)), "both copies to stop it")
        calls, attempts = shop.state.api_calls, shop.stats().refresh_attempts
        await place_order(shop)
        await asyncio.sleep(4 * 0.3 + 1)  # polls due several times over
        assert (shop.state.api_calls, shop.stats().refresh_attempts) == (calls, attempts)

    [event] = recorder.events(key, StoreDisconnected)
    assert "Connect the store again" in event.reason and "refresh_token is revoked" in event.reason
    assert shop.stats().refresh_attempts == shop.stats().refreshes + 1  # one refused refresh, not one per copy
    async with await AsyncConnection.connect(postgres.url) as conn:
        row = await (
            await conn.execute(
                "SELECT status, credentials FROM connectors.stores WHERE platform = 'etsy' AND store_id = %s",
                (shop.shop_id,),
            )
        ).fetchone()
    assert row == ("disconnected", None)


async def _true(value: bool) -> bool:
    return value
