"""The consume → decide → publish → commit loop every consuming deployable runs.

Why not a faststream subscriber: its acknowledgement modes commit before the
handler, after a failure, or retry one message forever (DESIGN.md, measured
facts), and per-message commits cap it near 1.4k msg/s on the embedded broker.
This loop commits per batch, only after the batch's outgoing events (dead
letters included) are acknowledged by the broker, so a crash anywhere
re-delivers rather than loses; consumers are idempotent by `event_id` and
order state, so re-delivery changes nothing.

Failures split in two:
- the infrastructure (Redis, the broker) is down: every message would fail,
  so the batch is rewound and retried with backoff until it comes back;
- one message fails (bad bytes, a bad event, a handler error): it is retried a
  bounded number of times, then dead-lettered with the reason, and the
  partition moves on.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from personalize.kafka import publish
from personalize.settings import Settings
from schemas import DeadLetter, Event, decode

log = logging.getLogger(__name__)

INFRASTRUCTURE_ERRORS = (KafkaError, RedisConnectionError, RedisTimeoutError, ConnectionError, asyncio.TimeoutError)


@dataclass(frozen=True)
class Received:
    record: ConsumerRecord
    event: Event


@dataclass
class Outcome:
    """What handling a batch produced: events to publish and inputs refused (they become dead letters)."""

    outgoing: list[Event] = field(default_factory=list)
    rejected: list[tuple[Received, str]] = field(default_factory=list)


Handler = Callable[[list[Received]], Awaitable[Outcome]]


@dataclass(frozen=True)
class ConsumerOptions:
    group_id: str
    topics: Sequence[str]
    max_records: int = 500
    message_attempts: int = 3
    retry_base_s: float = 0.2
    infra_backoff_max_s: float = 30.0
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000


def consumer_options(settings: Settings, group_id: str, topics: Sequence[str], max_records: int = 500) -> ConsumerOptions:
    return ConsumerOptions(
        group_id=group_id, topics=tuple(topics), max_records=max_records,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=max(300, settings.kafka_session_timeout_ms // 3),
    )


class BatchConsumer:
    def __init__(
        self, bootstrap: str, producer: AIOKafkaProducer, handle: Handler, options: ConsumerOptions
    ) -> None:
        self._producer = producer
        self._handle = handle
        self._options = options
        self._stopping = asyncio.Event()
        self._consumer = AIOKafkaConsumer(
            *options.topics,
            bootstrap_servers=bootstrap,
            group_id=options.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=options.max_records,
            session_timeout_ms=options.session_timeout_ms,
            heartbeat_interval_ms=options.heartbeat_interval_ms,
        )

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self._consumer.start()
        failures = 0
        try:
            while not self._stopping.is_set():
                fetched = await self._consumer.getmany(timeout_ms=200, max_records=self._options.max_records)
                records = [r for batch in fetched.values() for r in batch]
                if not records:
                    continue
                try:
                    await self._process(records)
                    failures = 0
                except INFRASTRUCTURE_ERRORS as error:
                    failures += 1
                    delay = self._infra_backoff(failures)
                    log.warning("infrastructure unavailable (%r); retrying the batch in %.1fs", error, delay)
                    self._rewind(records)
                    await self._sleep(delay)
        finally:
            await self._consumer.stop()

    async def _process(self, records: list[ConsumerRecord]) -> None:
        received, dead = self._decode(records)
        outcome = await self._handle_with_isolation(received, dead)
        dead += [self._dead_letter(r.record, reason) for r, reason in outcome.rejected]
        await publish(self._producer, [*outcome.outgoing, *dead])
        await self._commit(records)

    def _decode(self, records: list[ConsumerRecord]) -> tuple[list[Received], list[DeadLetter]]:
        received, dead = [], []
        for record in records:
            try:
                received.append(Received(record, decode(record.topic, record.value or b"")))
            except (ValidationError, ValueError) as error:
                dead.append(self._dead_letter(record, f"cannot decode {record.topic} message: {_brief(error)}"))
        return received, dead

    async def _handle_with_isolation(self, received: list[Received], dead: list[DeadLetter]) -> Outcome:
        """Handle the batch at once; if a message breaks it, handle one by one and dead-letter the culprit."""
        if not received:
            return Outcome()
        try:
            return await self._handle(received)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:
            log.exception("batch of %d failed; retrying its messages one by one", len(received))
        outcome = Outcome()
        for item in received:
            single = await self._handle_one(item)
            if single is None:
                continue
            outcome.outgoing += single.outgoing
            outcome.rejected += single.rejected
        return outcome

    async def _handle_one(self, item: Received) -> Outcome | None:
        for attempt in range(1, self._options.message_attempts + 1):
            try:
                return await self._handle([item])
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as error:  # noqa: BLE001 - any handler bug is this message's failure
                if attempt == self._options.message_attempts:
                    log.exception("giving up on %s after %d attempts", _where(item.record), attempt)
                    return Outcome(rejected=[(item, f"handler failed {attempt} times: {_brief(error)}")])
                await self._sleep(self._options.retry_base_s * 2 ** (attempt - 1))
        return None

    def _dead_letter(self, record: ConsumerRecord, reason: str) -> DeadLetter:
        log.warning("dead letter from %s: %s", _where(record), reason)
        return DeadLetter(
            order_key=(record.key or b"unknown").decode(errors="replace") or "unknown",
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            consumer=self._options.group_id,
            error=reason,
            raw=base64.b64encode(record.value or b"").decode(),
        )

    async def _commit(self, records: list[ConsumerRecord]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError as error:
            # The group rebalanced mid-batch: the new owner re-reads these and dedupes.
            log.warning("commit refused after a rebalance (%s); the batch will be re-delivered", error)

    def _rewind(self, records: list[ConsumerRecord]) -> None:
        first: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            first[tp] = min(first.get(tp, record.offset), record.offset)
        assigned = self._consumer.assignment()
        for tp, offset in first.items():
            if tp in assigned:
                self._consumer.seek(tp, offset)

    def _infra_backoff(self, failures: int) -> float:
        ceiling = min(self._options.infra_backoff_max_s, self._options.retry_base_s * 2 ** min(failures, 10))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not secrecy

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass


def _where(record: ConsumerRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"


def _brief(error: BaseException) -> str:
    text = str(error) if not isinstance(error, ValidationError) else _validation_summary(error)
    return text[:2000]


def _validation_summary(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['msg']}" for e in error.errors()[:10])
