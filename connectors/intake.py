"""The one path every order takes into Kafka, from a webhook or a poll: map, dedupe, publish, remember.

An order whose event would not fit a Kafka record (`plumbing.kafka.MessageTooLarge`: a platform order of
thousands of lines, a huge personalization text) is dead-lettered with its store and order id, its first bytes
kept, and remembered as seen like a published one: the poll's cursor moves past it, and neither the poll nor a
webhook sends it again until the order changes on the platform (a new version is tried, and dead-lettered, anew).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from connectors.errors import UnmappableOrderError
from connectors.metrics import DEAD_LETTERS, DUPLICATES, ORDERS_PUBLISHED
from connectors.platform import MappedOrder, PlatformAdapter
from connectors.seen import SeenOrders, Verdict
from plumbing.config import StoreConfig
from plumbing.dead_letters import kept_raw, short
from plumbing.kafka import MessageTooLarge, checked, message_limit, publish
from schemas import DeadLetter, OrderReceived, OrderUpdated, utc_now

log = logging.getLogger(__name__)

_EVENT_IDS = uuid.UUID("5d8f0a3e-4a5b-4c8e-9a53-2f1f6e0c7b11")
_ENVELOPE = {"event_id", "event_type", "schema_version", "occurred_at"}
_REPLACED = {"event_type", "event_id", "occurred_at"}


@dataclass(frozen=True)
class _Ready:
    mapped: MappedOrder
    digest: str
    verdict: Verdict
    raw: dict


@dataclass(frozen=True)
class Accepted:
    order_id: str
    modified_at: datetime
    verdict: Verdict


# The same unmappable body seen again (the next poll re-reads it) is not dead-lettered twice.
DEAD_LETTER_MEMORY_S = 7 * 86400


class Intake:
    def __init__(self, adapter: PlatformAdapter, producer: AIOKafkaProducer, redis: Redis) -> None:
        self._adapter = adapter
        self._producer = producer
        self._redis = redis
        self._seen: dict[str, SeenOrders] = {}

    async def accept(self, store: StoreConfig, raws: list[dict], source: str) -> list[Accepted]:
        """Publish what is new or changed among `raws`; returns what became of each mappable order.

        Returns only once every event is acknowledged by the broker, so a caller
        may then advance its cursor or answer the platform.
        """
        seen = self._seen_for(store)
        mapped_orders: list[tuple[MappedOrder, dict]] = []
        dead: list[DeadLetter] = []
        for raw in raws:
            try:
                mapped_orders.append((self._adapter.map_order(store, raw), raw))
            except UnmappableOrderError as error:
                if await self._first_time_unmappable(store, raw):
                    dead.append(
                        self._dead_letter(store, raw, f"cannot map {self._adapter.name} order: {error}", source)
                    )
        versions = [(m.order.platform_order_id, m.modified_at, _digest(m)) for m, _ in mapped_orders]
        verdicts = await seen.classify(versions) if versions else []
        ready = [
            _Ready(m, v[2], verdict, raw)
            for (m, raw), v, verdict in zip(mapped_orders, versions, verdicts, strict=True)
        ]
        for r in ready:
            if not r.verdict.publish:
                DUPLICATES.labels(self._adapter.name, r.verdict.value).inc()
        to_publish = [r for r in ready if r.verdict.publish]
        published, encoded = self._within_limit(store, to_publish, source, dead)
        try:
            await publish(self._producer, [*(event for _, event in published), *dead], encoded)
        except BaseException:
            await seen.release([r.mapped.order.platform_order_id for r in to_publish])
            raise
        if to_publish:
            await seen.record([(r.mapped.order.platform_order_id, r.mapped.modified_at, r.digest) for r in to_publish])
        for r, _ in published:
            ORDERS_PUBLISHED.labels(
                self._adapter.name, "OrderReceived" if r.verdict is Verdict.NEW else "OrderUpdated"
            ).inc()
        return [Accepted(r.mapped.order.platform_order_id, r.mapped.modified_at, r.verdict) for r in ready]

    async def dead_letter(self, store: StoreConfig, body: bytes, reason: str, source: str) -> None:
        await publish(self._producer, [self._dead_letter(store, body, reason, source)])

    def _within_limit(
        self, store: StoreConfig, to_publish: list[_Ready], source: str, dead: list[DeadLetter]
    ) -> tuple[list[tuple[_Ready, OrderReceived | OrderUpdated]], dict[str, bytes]]:
        """The events of `to_publish` that fit a record, with their values; one too large becomes a dead letter
        (added to `dead`), and is recorded as seen with the rest once the broker has the dead letter."""
        limit = message_limit(self._producer)
        events: list[tuple[_Ready, OrderReceived | OrderUpdated]] = []
        encoded: dict[str, bytes] = {}
        for r in to_publish:
            event = _event(r)
            try:
                encoded[event.event_id] = checked(event, limit)
            except MessageTooLarge as error:
                order_id = r.mapped.order.platform_order_id
                reason = f"{self._adapter.name} order {order_id} of store {store.key} not published: {error.reason}"
                dead.append(self._dead_letter(store, r.raw, reason, source, event.order_key))
                continue
            events.append((r, event))
        return events, encoded

    def _dead_letter(
        self, store: StoreConfig, raw: dict | bytes, reason: str, source: str, order_key: str | None = None
    ) -> DeadLetter:
        DEAD_LETTERS.labels(self._adapter.name, source).inc()
        log.warning("dead letter from %s %s: %s", source, store.key, short(reason, 300))
        body = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
        # Cut to fit a record: a dead letter the producer refuses would fail the webhook and the poll.
        kept, cut = kept_raw(body, message_limit(self._producer))
        return DeadLetter(
            order_key=order_key or f"{store.key}:unknown",
            source_topic=f"{source}:{store.key}",
            partition=-1,
            offset=-1,
            consumer=f"connector-{self._adapter.name}",
            error=short(reason) + cut,
            raw=kept,
        )

    async def _first_time_unmappable(self, store: StoreConfig, raw: dict) -> bool:
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:32]
        key = f"connector:{store.platform}:{store.store_id}:unmappable:{digest}"
        return bool(await self._redis.set(key, 1, nx=True, ex=DEAD_LETTER_MEMORY_S))

    def _seen_for(self, store: StoreConfig) -> SeenOrders:
        if store.key not in self._seen:
            self._seen[store.key] = SeenOrders(self._redis, store.platform, store.store_id)
        return self._seen[store.key]


def _digest(mapped: MappedOrder) -> str:
    content = mapped.order.model_dump_json(exclude=_ENVELOPE)
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def _event(ready: _Ready) -> OrderReceived | OrderUpdated:
    order = ready.mapped.order
    # The same version of an order always gets the same event_id, so a
    # re-publish after a crash is a duplicate core recognises.
    version = f"{order.order_key}|{ready.mapped.modified_at.isoformat()}|{ready.digest}"
    event_id = str(uuid.uuid5(_EVENT_IDS, version))
    kind = OrderReceived if ready.verdict is Verdict.NEW else OrderUpdated
    # The mapping validated every field already; only the envelope is new. Validating the whole order a
    # second time (`kind(**order.model_dump())`) was ~4 % of a webhook's CPU (profiled).
    fields = {name: value for name, value in order.__dict__.items() if name not in _REPLACED}
    return kind.model_construct(**fields, event_id=event_id, occurred_at=utc_now())
