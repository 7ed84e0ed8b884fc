"""Kafka plumbing every deployable shares: producer, topic creation, publishing events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from personalize.settings import Settings
from schemas import Event, encode, topic_of

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


def make_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.required_bootstrap(),
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=15_000,
    )


async def ensure_topics(settings: Settings, topics: Iterable[str]) -> None:
    """Create the topics a service uses if they are missing (existing ones are left as they are)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.required_bootstrap())
    await admin.start()
    try:
        wanted = sorted(set(topics))
        response = await admin.create_topics(
            [NewTopic(t, settings.topic_partitions, settings.topic_replication) for t in wanted]
        )
        for topic, code, message in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"cannot create topic {topic}: {message} (error {code})")
    finally:
        await admin.close()


async def publish(producer: AIOKafkaProducer, events: Iterable[Event]) -> None:
    """Send every event keyed by its order, and return once the broker has acknowledged all of them."""
    pending = [
        await producer.send(
            topic_of(event),
            value=encode(event),
            key=event.order_key.encode(),
            headers=[("event_type", event.event_type.encode())],
        )
        for event in events
    ]
    if pending:
        await asyncio.gather(*pending)
