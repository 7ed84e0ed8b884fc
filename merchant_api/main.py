"""`personalize api`: the merchant API, reading core's store in Redis and publishing commands for core."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import BlockingConnectionPool, Redis

from core.directory import Directory
from core.store import RedisOrderStore
from merchant_api.app import make_app
from merchant_api.deps import Api
from merchant_api.keys import ApiKeys
from merchant_api.settings import ApiSettings
from plumbing.config import load_config
from plumbing.kafka import ensure_topics, make_producer
from plumbing.lifecycle import stop_on_signals
from plumbing.ops import Health, add_ops_routes, kafka_probe, redis_probe, service_server
from schemas import ORDERS_COMMANDS

log = logging.getLogger("merchant_api")

SHUTDOWN_GRACE_S = 5.0
REDIS_CONNECTIONS = 32  # requests wait for a free connection rather than fail under load
REDIS_WAIT_S = 5


async def run(settings: ApiSettings, stop: asyncio.Event | None = None) -> None:
    stop = stop or stop_on_signals()
    config = load_config(settings.config)
    await ensure_topics(settings, (ORDERS_COMMANDS,))
    redis = Redis(connection_pool=BlockingConnectionPool.from_url(
        settings.required_redis_url(), max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_S))
    producer = make_producer(settings)
    await producer.start()
    directory = Directory(redis, config)
    await directory.seed()  # the API may start before core: both seed, the first one wins, the rest is a no-op

    async def healthy() -> dict[str, bool]:
        return {"redis": await _ok(redis.ping()), "kafka": await _ok(producer.client.fetch_all_metadata())}

    api = Api(orders=RedisOrderStore(redis), directory=directory, keys=ApiKeys(redis), producer=producer,
              healthy=healthy)
    app = make_app(api)
    # /health/live, /health/ready and /metrics as on every deployable (docs/operations.md); the API's own /health
    # stays first in line, so it keeps answering as documented in its OpenAPI.
    health = Health().ready_when("redis", redis_probe(redis)).ready_when("kafka", kafka_probe(producer))
    add_ops_routes(app, health)
    server = service_server(app, settings.api_host, settings.api_port)
    serving = asyncio.create_task(server.serve())
    log.info("merchant API on http://%s:%d (OpenAPI at /docs)", settings.api_host, settings.api_port)
    try:
        await asyncio.wait([asyncio.create_task(stop.wait()), serving], return_when=asyncio.FIRST_COMPLETED)
        if serving.done() and not stop.is_set():
            serving.result()  # the server could not start (port taken): fail loudly
    finally:
        health.stopping = True
        server.should_exit = True
        await asyncio.wait([serving], timeout=SHUTDOWN_GRACE_S)
        await producer.stop()
        await redis.aclose()
        log.info("merchant API stopped")


async def _ok(check) -> bool:  # noqa: ANN001 - an awaitable health probe
    try:
        await asyncio.wait_for(check, 2)
        return True
    except Exception:  # noqa: BLE001 - any failure means not healthy
        return False
