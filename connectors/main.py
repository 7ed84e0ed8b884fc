"""`personalize connector <platform>`: one process serving every connected store of one platform.

Without PERSONALIZE_DATABASE_URL it serves the YAML's stores of its platform, as read at start. With it,
the YAML's stores are seeded into the store registry (`connectors.stores.lifecycle`), the registry's
stores run, and the `stores` topic tells the process which store to start or stop while it runs: each
copy reads the topic in a consumer group of its own, so every copy sees every event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence

import httpx
from fastapi import APIRouter

from connectors.budget import RateBudget
from connectors.client import PlatformClient, shared_http
from connectors.connect.apps import PlatformApp, app_for
from connectors.connect.context import HTTP_TIMEOUT, ConnectContext, connect_router
from connectors.connect.states import RedisConnectStates
from connectors.copies import Copies
from connectors.fetcher import ThinFetcher
from connectors.hook_health import HookKeeper
from connectors.intake import Intake
from connectors.platform import PlatformAdapter
from connectors.registry import adapter_for
from connectors.settings import ConnectorSettings, RegistrySettings
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.postgres import PostgresStoreRegistry
from connectors.stores.roster import RegistryFollower, Roster
from connectors.subscriptions import registry_writer
from connectors.tokens import TokenKeeper, keeper_for
from connectors.tokens_locks import RedisRefreshLocks
from connectors.webhooks import Disconnect, StoreRoutes, make_app
from plumbing.config import StoreConfig, load_config
from plumbing.database import open_pool
from plumbing.kafka import publish
from plumbing.ops import CONNECTOR_OPS_PORT
from plumbing.service import HTTP_GRACE_S, Service, waiting_pool
from plumbing.settings import SettingsError
from schemas import DEAD_LETTERS, ORDERS_RECEIVED, STORES, Event

log = logging.getLogger("connector")

PRODUCES = (ORDERS_RECEIVED, DEAD_LETTERS, STORES)


def client_for(
    adapter: PlatformAdapter,
    store: StoreConfig,
    keeper: TokenKeeper | None = None,
    http: httpx.AsyncClient | None = None,
    budget: RateBudget | None = None,
) -> PlatformClient:
    """The store's client; `http`, the platform's one shared connection pool (`connectors.client.shared_http`);
    `budget`, its quota shared by every copy (`connectors.budget`)."""
    if not store.base_url:
        raise SettingsError(f"store {store.key}: base_url is required to run its connector")
    return PlatformClient(
        adapter.name,
        store.base_url,
        headers=adapter.headers(store),
        auth=keeper.auth(store) if keeper is not None and keeper.keeps(store) else adapter.auth(store),
        rate_limit_wait=adapter.rate_limit_wait,
        http=http,
        budget=budget,
        budget_id=budget.scope(store) if budget is not None else "",
    )


def _app_webhook_secret(adapter: PlatformAdapter, app: PlatformApp | None) -> str | None:
    """What verifies every delivery of a platform that signs them with the app's one secret (Etsy's endpoint
    secret, Wix's public key), as the environment has it now; None: each store's own."""
    if app is None or not adapter.routes_per_app:
        return None
    if app.public_key:
        return app.public_key
    return app.webhook_secret.get_secret_value() if app.webhook_secret is not None else None


@contextlib.asynccontextmanager
async def open_registry(settings: RegistrySettings, wait_s: float = 30) -> AsyncIterator[PostgresStoreRegistry]:
    """The registry in PostgreSQL, migrated; closed on leaving. Not reached within `wait_s`: PoolTimeout."""
    pool = open_pool(settings.required_database_url())
    await pool.open(wait=True, timeout=wait_s)
    try:
        registry = PostgresStoreRegistry(pool, settings.sealer())
        await registry.migrate()
        yield registry
    finally:
        await pool.close()


async def run(platform: str, settings: ConnectorSettings, stop: asyncio.Event | None = None) -> None:
    adapter = adapter_for(platform)
    config = load_config(settings.required_config())
    yaml_stores = {s.store_id: s for s in config.stores if s.platform == platform}
    for store in yaml_stores.values():  # a YAML store without an address is refused at start, as before
        await client_for(adapter, store).aclose()
    # Webhooks wait for a free Redis connection: 200 at once must not answer 500s (see `waiting_pool`).
    pool = waiting_pool(connections=64, wait_s=10)
    service = Service(f"{platform} connector", settings, PRODUCES, log, redis=pool, stop=stop, grace_s=HTTP_GRACE_S)
    async with contextlib.AsyncExitStack() as opened, service:  # the registry closes after the tasks using it
        api_http = await opened.enter_async_context(shared_http())  # every store's requests, one pool
        clients: dict[str, PlatformClient] = {}
        routes = StoreRoutes(adapter)
        intake = Intake(adapter, service.producer, service.redis)
        fetcher = ThinFetcher(adapter, intake, clients, workers=settings.fetch_workers)
        service.closes(fetcher.stop)
        hooks = HookKeeper.for_platform(platform, service.redis)
        copies = Copies(service.redis, platform)  # which stores this copy polls
        budget = RateBudget.for_platform(service.redis, platform, per_day=settings.etsy_daily_quota)
        keeper: TokenKeeper | None = None  # set below with the registry, for a platform whose tokens expire
        roster = Roster(
            adapter,
            intake,
            service.redis,
            routes,
            clients,
            lambda store: client_for(adapter, store, keeper, api_http, budget),
            hooks,
            forget=lambda store_id: keeper.forget(store_id) if keeper else None,
            owns=copies.owns,
            budget=budget,
        )
        connect: APIRouter | None = None
        disconnect: Disconnect | None = None  # an uninstall webhook's: only with a registry to disconnect in
        if settings.database_url is None:
            for store in yaml_stores.values():
                await roster.start(store)
        else:
            registry = await opened.enter_async_context(open_registry(settings))

            async def announce(events: Sequence[Event]) -> None:
                await publish(service.producer, events)

            lifecycle = StoreLifecycle(registry, announce)
            disconnect = lifecycle.disconnect
            roster.on_revoked = lifecycle.disconnect  # a revoked grant disconnects the store (connectors.errors)
            if hooks is not None:
                hooks.save_for = lambda store: registry_writer(
                    registry, platform, store.store_id, then=lambda: lifecycle.updated(platform, store.store_id)
                )
            seeded = await lifecycle.seed(yaml_stores.values())
            if (app_settings := app_for(platform)) is not None:
                http = await opened.enter_async_context(httpx.AsyncClient(timeout=HTTP_TIMEOUT))
                states = RedisConnectStates(service.redis)
                connect = connect_router(ConnectContext(app_settings, states, lifecycle, registry, http))
                margin = settings.token_refresh_margin.total_seconds()
                keeper = keeper_for(
                    app_settings, registry, lifecycle, RedisRefreshLocks(service.redis), http, margin_s=margin
                )
                if connect is not None:
                    log.info("%s connect flow: %s/connect/%s/start", platform, app_settings.base_url, platform)
            follower = RegistryFollower(
                platform, registry, roster, yaml_stores, app_webhook_secret=_app_webhook_secret(adapter, app_settings)
            )
            await follower.start()
            routes.catch_up = follower.catch_up  # a store connected through another copy: see `StoreRoutes.find`
            # A group per copy: every copy must see every store's events (a shared group would split them).
            group = f"connector-{platform}-{uuid.uuid4().hex[:12]}"
            service.watch("stores", service.consumer("stores", follower, group, [STORES]).run())
            log.info("%s connector follows the store registry (%d YAML store(s) seeded)", platform, seeded)
        app = make_app(adapter, routes, intake, fetcher, connect, disconnect)
        fetcher.start()
        # A poll mid-page stops at once: its cursor has not moved, so the next start re-reads the page.
        service.watch("roster", roster.run_until(service.stop))
        service.watch("copies", copies.run(service.stop))
        host, port = settings.connector_host, settings.connector_port
        # proxy_headers off: nothing here reads the client's address, and uvicorn's check of every request's
        # headers for X-Forwarded-* was 3 % of a webhook's CPU (profiled).
        service.serve_http(app, host, port, proxy_headers=False)
        await service.serve_ops(CONNECTOR_OPS_PORT)  # not on the public port: see plumbing.ops
        webhooks = f"http://{host}:{port}/webhooks/{platform}/<store_id>"
        log.info("%s connector: %d store(s), webhooks on %s", platform, len(roster), webhooks)
        await service.run()
