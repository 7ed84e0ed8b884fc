"""`personalize core`: wire the order store, the decisions and the consume loop, and run them."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from core.directory import Directory
from core.handlers import CoreHandler
from core.settings import CoreSettings
from core.store import HiredisPacking, RedisOrderStore
from plumbing.config import load_config
from plumbing.consumer import INFRASTRUCTURE_ERRORS, BatchConsumer, consumer_options
from plumbing.kafka import ensure_topics, make_producer
from plumbing.lifecycle import stop_on_signals
from plumbing.ops import CORE_OPS_PORT, Health, consumer_probe, kafka_probe, redis_probe, serve_ops
from schemas import (
    DEAD_LETTERS,
    FULFILLMENT_REQUESTED,
    ORDERS_COMMANDS,
    ORDERS_RECEIVED,
    ORDERS_STATUS,
    PERSONALIZATION_COMPLETED,
    PERSONALIZATION_LINK_ACTIVITY,
    PERSONALIZATION_LINK_ISSUED,
    PERSONALIZATION_REQUESTED,
    utc_now,
)

log = logging.getLogger("core")

CONSUMES = (ORDERS_RECEIVED, PERSONALIZATION_COMPLETED, ORDERS_COMMANDS, PERSONALIZATION_LINK_ISSUED,
            PERSONALIZATION_LINK_ACTIVITY)
PRODUCES = (ORDERS_STATUS, PERSONALIZATION_REQUESTED, FULFILLMENT_REQUESTED, DEAD_LETTERS)


async def run(settings: CoreSettings, clock: Callable[[], datetime] = utc_now, stop: asyncio.Event | None = None) -> None:
    stop = stop or stop_on_signals()
    config = load_config(settings.config)
    await ensure_topics(settings, CONSUMES + PRODUCES)
    redis = Redis.from_url(settings.required_redis_url(), connection_class=HiredisPacking)
    producer = make_producer(settings)
    await producer.start()
    directory = Directory(redis, config)
    seeded = await _seed_when_redis_answers(directory, stop)
    handler = CoreHandler(RedisOrderStore(redis), directory, settings.link_delay, clock)
    consumer = BatchConsumer(
        settings.required_bootstrap(),
        producer,
        handler,
        consumer_options(settings, settings.core_group, CONSUMES, settings.core_batch),
    )
    health = Health().ready_when("redis", redis_probe(redis)).ready_when("kafka", kafka_probe(producer))
    health.ready_when("consumer", consumer_probe(consumer))
    ops = await serve_ops(health, settings.ops_host, CORE_OPS_PORT if settings.ops_port is None else settings.ops_port)
    stopper = asyncio.create_task(_stop_when(stop, consumer, health))
    log.info("core consuming %s as group %r, %d store(s) configured (%d seeded from the config)",
             ", ".join(CONSUMES), settings.core_group, len(config.stores), seeded)
    _calm_collector()
    try:
        await consumer.run()
    finally:
        stopper.cancel()
        await ops.stop()
        await producer.stop()
        await redis.aclose()
        log.info("core stopped")


def _calm_collector() -> None:
    """Freeze what start-up built and let the cyclic collector wait for 100,000 allocations, not 700.

    A batch keeps tens of thousands of objects alive at once (records, events, orders, their models), nearly
    none in cycles: each young collection walked them all, and the older ones the long-lived heap (modules,
    pydantic's schemas) too. Over the 20,000 orders of `benchmarks.core_throughput`, collections took 1.7 s
    of core's 10 s of CPU at the default thresholds, 0.6 s at 20,000 (the HTTP services' setting) and 0.2 s
    at 100,000, most of that at start-up; 100,000 used 12 % less CPU per order than 20,000.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 20, 20)


async def _seed_when_redis_answers(directory: Directory, stop: asyncio.Event) -> int:
    """The YAML fills in only what Redis lacks (merchants' changes survive). A Redis restarting as core starts
    is waited out like an outage mid-stream, rather than exiting and leaving it to a supervisor."""
    delay = 0.25
    while True:
        try:
            return await directory.seed()
        except INFRASTRUCTURE_ERRORS as error:
            if stop.is_set():
                raise
            log.warning("Redis unavailable at start-up (%r); retrying in %.1fs", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _stop_when(stop: asyncio.Event, consumer: BatchConsumer, health: Health) -> None:
    await stop.wait()
    health.stopping = True
    consumer.stop()
