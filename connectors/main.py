"""`personalize connector <platform>`: one process serving every configured store of one platform."""

from __future__ import annotations

import asyncio
import logging

from connectors.client import PlatformClient
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.platform import PlatformAdapter
from connectors.poller import StorePoller
from connectors.registry import adapter_for
from connectors.seen import Cursor
from connectors.settings import ConnectorSettings
from connectors.webhooks import make_app
from plumbing.config import StoreConfig, load_config
from plumbing.ops import CONNECTOR_OPS_PORT
from plumbing.service import HTTP_GRACE_S, Service, waiting_pool
from plumbing.settings import SettingsError
from schemas import DEAD_LETTERS, ORDERS_RECEIVED

log = logging.getLogger("connector")

PRODUCES = (ORDERS_RECEIVED, DEAD_LETTERS)


def client_for(adapter: PlatformAdapter, store: StoreConfig) -> PlatformClient:
    if not store.base_url:
        raise SettingsError(f"store {store.key}: base_url is required to run its connector")
    return PlatformClient(
        adapter.name,
        store.base_url,
        headers=adapter.headers(store),
        auth=adapter.auth(store),
        rate_limit_wait=adapter.rate_limit_wait,
    )


async def run(platform: str, settings: ConnectorSettings, stop: asyncio.Event | None = None) -> None:
    adapter = adapter_for(platform)
    config = load_config(settings.required_config())
    stores = {s.store_id: s for s in config.stores if s.platform == platform}
    clients = {s.key: client_for(adapter, s) for s in stores.values()}
    # Webhooks wait for a free Redis connection: 200 at once must not answer 500s (see `waiting_pool`).
    pool = waiting_pool(connections=64, wait_s=10)
    service = Service(f"{platform} connector", settings, PRODUCES, log, redis=pool, stop=stop, grace_s=HTTP_GRACE_S)
    async with service:
        for client in clients.values():
            service.closes(client.aclose)
        intake = Intake(adapter, service.producer, service.redis)
        fetcher = ThinFetcher(adapter, intake, clients, workers=settings.fetch_workers)
        service.closes(fetcher.stop)
        app = make_app(adapter, stores, intake, fetcher)
        fetcher.start()
        # A poll mid-page stops at once: its cursor has not moved, so the next start re-reads the page.
        for s in stores.values():
            poller = StorePoller(adapter, s, clients[s.key], intake, Cursor(service.redis, platform, s.store_id))
            service.watch(f"poll {s.store_id}", poller.run(service.stop))
        host, port = settings.connector_host, settings.connector_port
        # proxy_headers off: nothing here reads the client's address, and uvicorn's check of every request's
        # headers for X-Forwarded-* was 3 % of a webhook's CPU (profiled).
        service.serve_http(app, host, port, proxy_headers=False)
        await service.serve_ops(CONNECTOR_OPS_PORT)  # not on the public port: see plumbing.ops
        webhooks = f"http://{host}:{port}/webhooks/{platform}/<store_id>"
        log.info("%s connector: %d store(s), webhooks on %s", platform, len(stores), webhooks)
        await service.run()
