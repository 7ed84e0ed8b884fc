"""`personalize editor`: the customer's personalization pages, and the consumer that builds its link table."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import BlockingConnectionPool, Redis

from editor_service.app import make_app
from editor_service.completion import Republisher
from editor_service.deps import Editor
from editor_service.handlers import EditorHandler
from editor_service.images import AssetStore
from editor_service.settings import EditorSettings
from editor_service.state import EditorStore
from plumbing.consumer import BatchConsumer, consumer_options
from plumbing.kafka import ensure_topics, make_producer
from plumbing.lifecycle import stop_on_signals
from plumbing.ops import Health, consumer_probe, kafka_probe, redis_probe, service_server
from schemas import (
    DEAD_LETTERS,
    ORDERS_STATUS,
    PERSONALIZATION_COMPLETED,
    PERSONALIZATION_LINK_ACTIVITY,
    PERSONALIZATION_LINK_ISSUED,
    utc_now,
)

log = logging.getLogger("editor")

CONSUMES = (PERSONALIZATION_LINK_ISSUED, ORDERS_STATUS)
PRODUCES = (PERSONALIZATION_COMPLETED, PERSONALIZATION_LINK_ACTIVITY, DEAD_LETTERS)
SHUTDOWN_GRACE_S = 5.0
# Requests wait for a free Redis connection rather than fail: the default pool refuses past its size under load.
REDIS_CONNECTIONS = 64
REDIS_WAIT_S = 5


async def run(settings: EditorSettings, clock: Callable[[], datetime] = utc_now,
              stop: asyncio.Event | None = None) -> None:
    stop = stop or stop_on_signals()
    await ensure_topics(settings, CONSUMES + PRODUCES)
    settings.assets_dir.mkdir(parents=True, exist_ok=True)
    redis = Redis(connection_pool=BlockingConnectionPool.from_url(
        settings.required_redis_url(), max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_S))
    producer = make_producer(settings)
    await producer.start()
    store = EditorStore(redis)
    consumer = BatchConsumer(settings.required_bootstrap(), producer, EditorHandler(store),
                             consumer_options(settings, settings.editor_group, CONSUMES))
    health = Health().ready_when("redis", redis_probe(redis)).ready_when("kafka", kafka_probe(producer))
    health.ready_when("consumer", consumer_probe(consumer))
    editor = Editor(store=store, producer=producer, assets=AssetStore(settings.assets_dir), settings=settings,
                    clock=clock)
    server = service_server(make_app(editor, health), settings.editor_host, settings.editor_port)
    tasks = [health.watch("consumer", asyncio.create_task(consumer.run())),
             health.watch("republisher", asyncio.create_task(Republisher(store, producer).run(stop)))]
    serving = asyncio.create_task(server.serve())
    log.info("editor on http://%s:%d/p/<token>, assets in %s", settings.editor_host, settings.editor_port,
             settings.assets_dir.resolve())
    try:
        await asyncio.wait([asyncio.create_task(stop.wait()), serving], return_when=asyncio.FIRST_COMPLETED)
        if serving.done() and not stop.is_set():
            serving.result()  # the server could not start (port taken): fail loudly
    finally:
        health.stopping = True
        server.should_exit = True
        consumer.stop()
        stop.set()
        _, late = await asyncio.wait([serving, *tasks], timeout=SHUTDOWN_GRACE_S)
        for task in late:
            task.cancel()
        await asyncio.gather(serving, *tasks, return_exceptions=True)
        await producer.stop()
        await redis.aclose()
        log.info("editor stopped")
