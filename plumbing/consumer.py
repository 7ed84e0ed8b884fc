"""The consume → decide → publish → commit loop every consuming deployable runs.

Why not a faststream subscriber: its acknowledgement modes commit before the
handler, after a failure, or retry one message forever (DESIGN.md, measured
facts), and per-message commits cap it near 1.4k msg/s on the embedded broker.
This loop commits per batch, only after the batch's outgoing events (dead
letters included) are acknowledged by the broker, so a crash anywhere
re-delivers rather than loses; consumers are idempotent by `event_id` and
order state, so re-delivery changes nothing.

Failures split in two:
- the infrastructure (Redis, the broker) is down, or Redis answers that it
  cannot serve now (a replica after a failover, a busy script, loading:
  `plumbing.redis_errors`): every message would fail, so the batch is rewound
  and retried with backoff until it comes back;
- one message fails (bad bytes, a bad event, a handler error): it is retried a
  bounded number of times, then dead-lettered with the reason, and the
  partition moves on;
- one message would publish an event over the brokers' record limit
  (`plumbing.kafka.MessageTooLarge`): it is dead-lettered at once, naming the
  size and the limit (a retry fails the same way). A handler with side effects
  checks before it writes (core does); this is the net under every handler.

Stopping (SIGTERM) never cuts a batch in half: `stop()` lets the batch in hand
finish, publish and commit, then the consumer leaves its group. A batch that
is retrying (broker down, a message failing) when the stop comes is abandoned
uncommitted, so it is re-delivered rather than dead-lettered in a hurry.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError
from redis.exceptions import TimeoutError as RedisTimeoutError

from plumbing import metrics
from plumbing.dead_letters import KEY_MAX_CHARS, brief, kept_raw, short
from plumbing.kafka import MessageTooLarge, checked, message_limit, publish_batched, security_options
from plumbing.logs import event_context, event_fields
from plumbing.redis_errors import REDIS_PY_OUTAGES, RedisUnavailable, is_outage
from plumbing.settings import Settings
from schemas import DeadLetter, Event, decode

log = logging.getLogger(__name__)

# A full Redis (noeviction), or one answering READONLY, NOREPLICAS, MASTERDOWN,
# BUSY, LOADING, TRYAGAIN or CLUSTERDOWN around a failover, is an outage to wait
# out, not a bad message to dead-letter (`plumbing.redis_errors`: the services'
# clients raise those as `RedisUnavailable`). A record too large for the brokers
# is the message's fault: `MessageTooLarge` is no KafkaError.
INFRASTRUCTURE_ERRORS = (
    KafkaError,
    RedisConnectionError,
    RedisTimeoutError,
    RedisOutOfMemoryError,
    RedisUnavailable,
    *REDIS_PY_OUTAGES,
    ConnectionError,
    asyncio.TimeoutError,
)


def is_infrastructure(error: BaseException) -> bool:
    """An outage to wait out: by class, or by the reply's code on a Redis error from a client built elsewhere."""
    return isinstance(error, INFRASTRUCTURE_ERRORS) or is_outage(error)


@dataclass(frozen=True)
class Received:
    """A message and the event decoded from its value (core keeps an order's snapshot as those very bytes)."""

    record: ConsumerRecord
    event: Event


@dataclass
class Outcome:
    """What handling a batch produced: events to publish and inputs refused (they become dead letters).

    `encoded`: the JSON of outgoing events the handler already encoded (core stores it), by event id, so
    publishing does not encode them again.
    """

    outgoing: list[Event] = field(default_factory=list)
    encoded: dict[str, bytes] = field(default_factory=dict)
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
    security: Mapping[str, Any] = field(default_factory=dict)  # TLS and SASL: `plumbing.kafka.security_options`


def consumer_options(
    settings: Settings, group_id: str, topics: Sequence[str], max_records: int = 500
) -> ConsumerOptions:
    return ConsumerOptions(
        group_id=group_id,
        topics=tuple(topics),
        max_records=max_records,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=max(300, settings.kafka_session_timeout_ms // 3),
        security=security_options(settings),
    )


class _Stopping(Exception):
    """A stop came while the batch was waiting to retry: leave it uncommitted for the next owner."""


class BatchConsumer:
    def __init__(self, bootstrap: str, producer: AIOKafkaProducer, handle: Handler, options: ConsumerOptions) -> None:
        self._producer = producer
        self._limit = message_limit(producer)
        self._handle_unchecked = handle
        self._options = options
        self._stopping = asyncio.Event()
        self._joined = False
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=options.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=options.max_records,
            session_timeout_ms=options.session_timeout_ms,
            heartbeat_interval_ms=options.heartbeat_interval_ms,
            **options.security,
        )
        self._consumer.subscribe(list(options.topics), listener=_Membership(self))

    @property
    def group_id(self) -> str:
        return self._options.group_id

    @property
    def joined(self) -> bool:
        """In its group with an assignment (possibly empty: more copies than partitions), and not stopping."""
        return self._joined and not self._stopping.is_set()

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
                except _Stopping:
                    metrics.BATCHES.labels(self.group_id, "abandoned").inc()
                except Exception as error:
                    if not is_infrastructure(error):
                        raise
                    failures += 1
                    delay = self._infra_backoff(failures)
                    log.warning("infrastructure unavailable (%r); retrying the batch in %.1fs", error, delay)
                    metrics.BATCHES.labels(self.group_id, "infra_retry").inc()
                    self._rewind(records)
                    await self._sleep(delay)
        finally:
            self._joined = False
            await self._consumer.stop()

    async def _handle(self, items: list[Received]) -> Outcome:
        """The handler's outcome, every outgoing event checked to fit a record (`MessageTooLarge` if one does not).

        The values are kept in `encoded`, so publishing does not encode them again."""
        outcome = await self._handle_unchecked(items)
        for event in outcome.outgoing:
            outcome.encoded[event.event_id] = checked(event, self._limit, outcome.encoded.get(event.event_id))
        return outcome

    async def _process(self, records: list[ConsumerRecord]) -> None:
        metrics.BATCH_RECORDS.labels(self.group_id).observe(len(records))
        received, dead = self._decode(records)
        started = time.perf_counter()
        outcome = await self._handle_with_isolation(received, dead)
        metrics.HANDLER_SECONDS.labels(self.group_id).observe(time.perf_counter() - started)
        dead += [self._dead_letter(r.record, reason, r.event) for r, reason in outcome.rejected]
        await publish_batched(self._producer, [*outcome.outgoing, *dead], outcome.encoded)
        if await self._commit(records):
            metrics.committed(self.group_id, records, [d.source_topic for d in dead], self._consumer.highwater)

    def _decode(self, records: list[ConsumerRecord]) -> tuple[list[Received], list[DeadLetter]]:
        received, dead = [], []
        for record in records:
            try:
                received.append(Received(record, decode(record.topic, record.value or b"")))
            except (ValidationError, ValueError) as error:
                dead.append(self._dead_letter(record, f"cannot decode {record.topic} message: {brief(error)}"))
        return received, dead

    async def _handle_with_isolation(self, received: list[Received], dead: list[DeadLetter]) -> Outcome:
        """Handle the batch at once; if a message breaks it, handle one by one and dead-letter the culprit."""
        if not received:
            return Outcome()
        try:
            return await self._handle(received)
        except Exception as error:
            if is_infrastructure(error):
                raise
            if isinstance(error, MessageTooLarge):
                log.warning(
                    "batch of %d would publish too large a record (%s); handling it one by one", len(received), error
                )
            else:
                log.exception("batch of %d failed; retrying its messages one by one", len(received))
        outcome = Outcome()
        for item in received:
            single = await self._handle_one(item)
            if single is None:
                continue
            outcome.outgoing += single.outgoing
            outcome.encoded.update(single.encoded)
            outcome.rejected += single.rejected
        return outcome

    async def _handle_one(self, item: Received) -> Outcome | None:
        with event_context(item.event):
            for attempt in range(1, self._options.message_attempts + 1):
                try:
                    return await self._handle([item])
                except Exception as error:  # any handler bug is this message's failure
                    if is_infrastructure(error):
                        raise
                    if isinstance(error, MessageTooLarge):  # the same every time: no retry
                        return Outcome(rejected=[(item, error.reason)])
                    if attempt == self._options.message_attempts:
                        log.exception("giving up on %s after %d attempts", _where(item.record), attempt)
                        return Outcome(rejected=[(item, f"handler failed {attempt} times: {brief(error)}")])
                    await self._sleep(self._options.retry_base_s * 2 ** (attempt - 1))
                    if self._stopping.is_set():
                        raise _Stopping from error
        return None

    def _dead_letter(self, record: ConsumerRecord, reason: str, event: Event | None = None) -> DeadLetter:
        order_key = short((record.key or b"unknown").decode(errors="replace"), KEY_MAX_CHARS) or "unknown"
        fields = event_fields(event) if event is not None else {"order_key": order_key}
        raw, cut = kept_raw(record.value or b"", self._limit)  # a dead letter too large would stick the partition
        log.warning("dead letter from %s: %s", _where(record), reason, extra=fields)
        return DeadLetter(
            order_key=order_key,
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            consumer=self._options.group_id,
            error=short(reason) + cut,
            raw=raw,
        )

    async def _commit(self, records: list[ConsumerRecord]) -> bool:
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        try:
            await self._consumer.commit(offsets)
            return True
        except CommitFailedError as error:
            # The group rebalanced mid-batch: the new owner re-reads these and dedupes.
            log.warning("commit refused after a rebalance (%s); the batch will be re-delivered", error)
            metrics.BATCHES.labels(self.group_id, "commit_refused").inc()
            return False

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
        return random.uniform(ceiling / 2, ceiling)  # jitter, not secrecy

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass


class _Membership(ConsumerRebalanceListener):
    """Tells readiness the consumer has joined its group, and keeps the partition metrics to what it holds."""

    def __init__(self, owner: BatchConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        metrics.released(self._owner.group_id, revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._owner._joined = True
        metrics.ASSIGNED.labels(self._owner.group_id).set(len(assigned))
        log.info("group %r joined: %d partition(s) assigned", self._owner.group_id, len(assigned))


def _where(record: ConsumerRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
