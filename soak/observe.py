"""What the soak reads of the system, as an outside observer: topics from the start, the services' Redis state.

Topics are read to each partition's high watermark as the fetch responses
report it, never to `end_offsets()` (the embedded broker answers that one
short; see docs/architecture.md, "The embedded default").
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas import PERSONALIZATION_LINK_ISSUED, Event, PersonalizationLinkIssued, decode

T = TypeVar("T")

log = logging.getLogger("soak")


@dataclass(frozen=True)
class Read:
    record: ConsumerRecord
    event: Event | None  # None: it did not decode


async def read_topic(bootstrap: str, topic: str, timeout_s: float = 120.0) -> list[Read]:
    """Every message of `topic` from the beginning up to its high watermark now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Read] = []
    try:
        await consumer.topics()  # loads metadata
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not await _caught_up(consumer, partitions):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"reading {topic}: not caught up after {timeout_s:.0f}s")
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [Read(r, _decode(topic, r.value)) for r in records]
    finally:
        await consumer.stop()
    return found


async def _caught_up(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> bool:
    for tp in partitions:
        highwater = consumer.highwater(tp)  # None until a fetch of this partition answered
        if highwater is None or await consumer.position(tp) < highwater:
            return False
    return True


def _decode(topic: str, raw: bytes | None) -> Event | None:
    try:
        return decode(topic, raw or b"")
    except ValueError:
        return None


@dataclass(frozen=True)
class Link:
    link_id: str
    order_key: str
    sequence: int
    url: str
    expires_at: datetime


class LinkBook:
    """Every issued link by id, from a live read of `personalization.link-issued` (the customer's address book)."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self.links: dict[str, Link] = {}

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            PERSONALIZATION_LINK_ISSUED,
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while not stop.is_set():
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        event = _decode(PERSONALIZATION_LINK_ISSUED, record.value)
                        if isinstance(event, PersonalizationLinkIssued):
                            self.links[event.link_id] = Link(
                                event.link_id, event.order_key, event.sequence, event.url, event.expires_at
                            )
        finally:
            await consumer.stop()


async def core_statuses(redis: Redis, keys: list[str]) -> dict[str, str | None]:
    """Core's status of each order key ('' when core has no such order, None when it awaits payment)."""
    found: dict[str, str | None] = {}
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        async with redis.pipeline(transaction=False) as pipe:
            for key in chunk:
                pipe.hget(f"core:order:{key}", "doc")
            docs = await pipe.execute()
        for key, doc in zip(chunk, docs, strict=True):
            found[key] = json.loads(doc).get("status") if doc else ""
    return found


async def scan(redis: Redis, pattern: str) -> list[str]:
    return [key.decode() async for key in redis.scan_iter(match=pattern, count=1000)]


async def core_orders(redis: Redis) -> dict[str, dict]:
    keys = await scan(redis, "core:order:*")
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hget(key, "doc")
        docs = await pipe.execute()
    return {key.removeprefix("core:order:"): json.loads(doc) for key, doc in zip(keys, docs, strict=True) if doc}


async def retrying(what: str, call: Callable[[], Awaitable[T]], attempts: int = 30) -> T:
    """Redis may be restarting: try again for a while before giving up."""
    for _ in range(attempts - 1):
        try:
            return await call()
        except (RedisError, OSError) as error:
            log.debug("%s: %s; retrying", what, error)
            await asyncio.sleep(1.0)
    return await call()  # the last attempt: its error is the caller's
