"""`personalize core`: wire the order store, the decisions and the consume loop, and run them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from core.decide import Policy
from core.handlers import CoreHandler
from core.settings import CoreSettings
from core.store import RedisOrderStore
from personalize.config import load_config
from personalize.consumer import BatchConsumer, consumer_options
from personalize.kafka import ensure_topics, make_producer
from personalize.lifecycle import stop_on_signals
from schemas import (
    DEAD_LETTERS,
    FULFILLMENT_REQUESTED,
    ORDERS_COMMANDS,
    ORDERS_RECEIVED,
    ORDERS_STATUS,
    PERSONALIZATION_COMPLETED,
    PERSONALIZATION_REQUESTED,
    utc_now,
)

log = logging.getLogger("core")

CONSUMES = (ORDERS_RECEIVED, PERSONALIZATION_COMPLETED, ORDERS_COMMANDS)
PRODUCES = (ORDERS_STATUS, PERSONALIZATION_REQUESTED, FULFILLMENT_REQUESTED, DEAD_LETTERS)


async def run(settings: CoreSettings, clock: Callable[[], datetime] = utc_now, stop: asyncio.Event | None = None) -> None:
    config = load_config(settings.config)
    await ensure_topics(settings, CONSUMES + PRODUCES)
    redis = Redis.from_url(settings.required_redis_url())
    producer = make_producer(settings)
    await producer.start()
    handler = CoreHandler(RedisOrderStore(redis), Policy(config, settings.link_delay), clock)
    consumer = BatchConsumer(
        settings.required_bootstrap(),
        producer,
        handler,
        consumer_options(settings, settings.core_group, CONSUMES, settings.core_batch),
    )
    stop = stop or stop_on_signals()
    stopper = asyncio.create_task(_stop_when(stop, consumer))
    log.info("core consuming %s as group %r, %d store(s) configured", ", ".join(CONSUMES), settings.core_group, len(config.stores))
    try:
        await consumer.run()
    finally:
        stopper.cancel()
        await producer.stop()
        await redis.aclose()
        log.info("core stopped")


async def _stop_when(stop: asyncio.Event, consumer: BatchConsumer) -> None:
    await stop.wait()
    consumer.stop()
