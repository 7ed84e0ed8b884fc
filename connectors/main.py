"""`personalize connector <platform>`: one process serving every configured store of one platform."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import BlockingConnectionPool, Redis

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
from plumbing.kafka import ensure_topics, make_producer
from plumbing.lifecycle import stop_on_signals
from plumbing.ops import Health, kafka_probe, redis_probe, service_server
from plumbing.settings import SettingsError
from schemas import DEAD_LETTERS, ORDERS_RECEIVED

log = logging.getLogger("connector")

SHUTDOWN_GRACE_S = 5.0


def client_for(adapter: PlatformAdapter, store: StoreConfig) -> PlatformClient:
    if not store.base_url:
        raise SettingsError(f"store {store.key}: base_url is required to run its connector")
    return PlatformClient(adapter.name, store.base_url, headers=adapter.headers(store), auth=adapter.auth(store),
                          rate_limit_wait=adapter.rate_limit_wait)


async def run(platform: str, settings: ConnectorSettings, stop: asyncio.Event | None = None) -> None:
    stop = stop or stop_on_signals()
    adapter = adapter_for(platform)
    config = load_config(settings.config)
    stores = {s.store_id: s for s in config.stores if s.platform == platform}
    clients = {s.key: client_for(adapter, s) for s in stores.values()}
    await ensure_topics(settings, (ORDERS_RECEIVED, DEAD_LETTERS))
    # Blocking pool: redis-py raises past its connection cap instead of waiting, which under 200 concurrent
    # webhooks answered HTTP 500s (measured); waiting a few ms for a connection is the right behaviour.
    redis = Redis(connection_pool=BlockingConnectionPool.from_url(settings.required_redis_url(), max_connections=64,
                                                                  timeout=10))
    producer = make_producer(settings)
    await producer.start()
    intake = Intake(adapter, producer, redis)
    fetcher = ThinFetcher(adapter, intake, clients, workers=settings.fetch_workers)
    health = Health().ready_when("redis", redis_probe(redis)).ready_when("kafka", kafka_probe(producer))
    app = make_app(adapter, stores, intake, fetcher, health)
    # proxy_headers off: nothing here reads the client's address, and uvicorn's check of every request's
    # headers for X-Forwarded-* was 3 % of a webhook's CPU (profiled).
    server = service_server(app, settings.connector_host, settings.connector_port, proxy_headers=False)
    pollers = {s.store_id: StorePoller(adapter, s, clients[s.key], intake, Cursor(redis, platform, s.store_id))
               for s in stores.values()}
    fetcher.start()
    tasks = [health.watch(f"poll {store_id}", asyncio.create_task(p.run(stop))) for store_id, p in pollers.items()]
    serving = asyncio.create_task(server.serve())
    log.info("%s connector: %d store(s), webhooks on http://%s:%d/webhooks/%s/<store_id>", platform, len(stores),
             settings.connector_host, settings.connector_port, platform)
    try:
        await stop.wait()
    finally:
        health.stopping = True
        server.should_exit = True
        # A poll mid-page stops at once: its cursor has not moved, so the next start re-reads the page.
        _, late = await asyncio.wait([serving, *tasks], timeout=SHUTDOWN_GRACE_S)
        for task in late:
            task.cancel()
        await asyncio.gather(serving, *tasks, return_exceptions=True)
        await fetcher.stop()
        for client in clients.values():
            await client.aclose()
        await producer.stop()
        await redis.aclose()
        log.info("%s connector stopped", platform)
