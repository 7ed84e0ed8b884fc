"""`personalize core`: wire the order store, the decisions and the consume loop, and run them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial

from core.directory import Directory
from core.handlers import CoreHandler
from core.learned_stores import StoresHandler
from core.parked import Parking, RedisParkedOrders, producer_republish
from core.settings import CoreSettings
from core.store import HiredisPacking, RedisOrderStore
from plumbing.config import load_config
from plumbing.consumer import INFRASTRUCTURE_ERRORS
from plumbing.lifecycle import calm_collector
from plumbing.ops import CORE_OPS_PORT
from plumbing.redis_client import redis_client
from plumbing.service import Service
from schemas import topics, utc_now

log = logging.getLogger("core")

CONSUMES = (
    topics.ORDERS_RECEIVED,
    topics.PERSONALIZATION_COMPLETED,
    topics.ORDERS_COMMANDS,
    topics.PERSONALIZATION_LINK_ISSUED,
    topics.PERSONALIZATION_LINK_ACTIVITY,
)
PRODUCES = (topics.ORDERS_STATUS, topics.PERSONALIZATION_REQUESTED, topics.FULFILLMENT_REQUESTED, topics.DEAD_LETTERS)


async def run(
    settings: CoreSettings, clock: Callable[[], datetime] = utc_now, stop: asyncio.Event | None = None
) -> None:
    config = load_config(settings.required_config())
    hiredis_packing = partial(redis_client, connection_class=HiredisPacking)
    topics_used = (*CONSUMES, *PRODUCES, topics.STORES)
    async with Service("core", settings, topics_used, log, redis=hiredis_packing, stop=stop) as core:
        directory = Directory(core.redis, config)
        seeded = await _seed_when_redis_answers(directory, core.stop)
        # An order that comes before its store's StoreConnected waits for it (`core.parked`).
        parking = Parking(RedisParkedOrders(core.redis), producer_republish(core.producer))
        handler = CoreHandler(
            RedisOrderStore(core.redis),
            directory,
            settings.link_delay,
            clock,
            settings.kafka_max_message_bytes,
            parking=parking,
            known=directory.known,
        )
        consumer = core.consumer("consumer", handler, settings.core_group, CONSUMES, settings.core_batch)
        # Stores connected while core runs: one copy of the group writes each into the shared directory, and every
        # copy (and the merchant API) reads it at its next batch. A group of its own: a store event never waits
        # behind a batch of orders.
        learner = core.consumer(
            "stores", StoresHandler(directory, parking), f"{settings.core_group}-stores", [topics.STORES]
        )
        core.watch("stores", learner.run())
        await core.serve_ops(CORE_OPS_PORT)
        log.info(
            "core consuming %s as group %r, %d store(s) configured (%d seeded from the config)",
            ", ".join(CONSUMES),
            settings.core_group,
            len(config.stores),
            seeded,
        )
        # A batch keeps tens of thousands of objects alive at once (records, events, orders, their models),
        # nearly none in cycles. Over the 20,000 orders of `benchmarks.core_throughput`, collections took 1.7 s
        # of core's 10 s of CPU at the default thresholds, 0.6 s at 20,000 (the HTTP services' setting) and
        # 0.2 s at 100,000, most of that at start-up; 100,000 used 12 % less CPU per order than 20,000.
        calm_collector(100_000)
        # The consume loop is core's whole job: its ending by itself (an error) ends the process.
        await core.run(consumer.run())


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
