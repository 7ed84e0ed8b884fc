"""The consume loop under failure, on a broker and Redis of this module's own.

A crash between the Redis write and the publish, a message that breaks its
handler, and Redis going away: none may lose or duplicate an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiokafka import TopicPartition
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError
from redis.exceptions import ReadOnlyError as RedisReadOnlyError

from core.directory import StaticConfig
from core.handlers import CoreHandler
from core.store import RedisOrderStore
from devstack.embedded import start_broker, start_redis
from plumbing.consumer import BatchConsumer, ConsumerOptions, Outcome, Received
from plumbing.kafka import ensure_topics, make_producer
from plumbing.settings import Settings
from schemas import (
    EVENTS_BY_TOPIC,
    ORDERS_RECEIVED,
    CancelOrder,
    DeadLetter,
    OrderStatusChanged,
    PersonalizationRequested,
    encode,
    utc_now,
)
from tests.builders import MANUAL, load_test_config, mug, order, plain
from tests.partitions import committed, number_on_partition
from tests.support import Recorder, count, send, unique_id

pytestmark = pytest.mark.integration  # starts servers or service processes of its own

CONFIG = StaticConfig(load_test_config())


class Crash(BaseException):
    """Stands for the process dying: nothing in the loop catches it."""


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    state = tmp_path_factory.mktemp("failures")
    broker, redis = start_broker(state), start_redis(state)
    yield broker, redis, state
    broker.stop()
    redis.stop()


@pytest.fixture(scope="module")
async def env(servers) -> AsyncIterator[dict]:
    broker, redis_server, _ = servers
    settings = Settings(kafka_bootstrap=broker.address, topic_partitions=2)
    await ensure_topics(settings, EVENTS_BY_TOPIC)
    producer = make_producer(settings)
    await producer.start()
    recorder = Recorder(broker.address, list(EVENTS_BY_TOPIC))
    await recorder.start()
    yield {"settings": settings, "producer": producer, "recorder": recorder, "redis_port": redis_server.port}
    await recorder.stop()
    await producer.stop()


def consumer(env, handle, group: str) -> BatchConsumer:
    options = ConsumerOptions(
        group_id=group,
        topics=(ORDERS_RECEIVED,),
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
        retry_base_s=0.05,
    )
    return BatchConsumer(env["settings"].kafka_bootstrap, env["producer"], handle, options)


def core_handler(redis: Redis) -> CoreHandler:
    return CoreHandler(RedisOrderStore(redis), CONFIG, timedelta(minutes=15), utc_now)


async def run_until(loop: BatchConsumer, condition) -> None:
    task = asyncio.create_task(loop.run())
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while not condition():
            if task.done():
                task.result()
            assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
            await asyncio.sleep(0.05)
    finally:
        loop.stop()
        await asyncio.wait_for(task, 15)


async def test_a_crash_after_the_state_write_republishes_the_same_events_on_redelivery(env):
    redis = Redis(port=env["redis_port"])
    group = f"crash-{unique_id()}"
    received = order(MANUAL, [mug()])
    await send(env["producer"], received)
    real = core_handler(redis)
    written = asyncio.Event()

    async def dies_before_publishing(batch: list[Received]) -> Outcome:
        await real(batch)  # state written to Redis...
        written.set()
        raise Crash()  # ...and the process dies before anything is published or committed

    crashing = consumer(env, dies_before_publishing, group)
    with pytest.raises(Crash):
        await crashing.run()
    assert written.is_set()
    assert count(env["recorder"].events(received.order_key), OrderStatusChanged) == 0

    rec = env["recorder"]
    await run_until(
        consumer(env, core_handler(redis), group),
        lambda: count(rec.events(received.order_key), PersonalizationRequested) == 1,
    )
    await asyncio.sleep(0.5)
    stored = (await RedisOrderStore(redis).load_many([received.order_key]))[received.order_key].order
    published = [
        e.event_id
        for e in rec.events(received.order_key)
        if isinstance(e, (OrderStatusChanged, PersonalizationRequested))
    ]
    assert sorted(published) == sorted(e.event_id for e in stored.applied[0].outgoing)
    assert count(rec.events(received.order_key), OrderStatusChanged) == 1
    await redis.aclose()


async def test_a_message_that_breaks_its_handler_is_retried_then_dead_lettered_and_the_rest_goes_on(env):
    redis = Redis(port=env["redis_port"])
    poison, fine = order(MANUAL, [plain()]), order(MANUAL, [plain()])
    real = core_handler(redis)
    attempts = []

    async def breaks_on_poison(batch: list[Received]) -> Outcome:
        if any(item.event.order_key == poison.order_key for item in batch):
            attempts.append(len(batch))
            raise ZeroDivisionError("a bug this message triggers")
        return await real(batch)

    await send(env["producer"], poison, fine)
    rec = env["recorder"]
    await run_until(
        consumer(env, breaks_on_poison, f"poison-{unique_id()}"),
        lambda: rec.events(poison.order_key, DeadLetter) and rec.events(fine.order_key, OrderStatusChanged),
    )
    (dead,) = rec.events(poison.order_key, DeadLetter)
    assert "ZeroDivisionError" in dead.error or "a bug this message triggers" in dead.error
    assert "3 times" in dead.error
    assert attempts.count(1) == 3  # three tries of the poison alone, after the batch try
    await redis.aclose()


async def test_a_full_or_read_only_redis_is_waited_out_not_dead_lettered(env):
    redis = Redis(port=env["redis_port"])
    received = order(MANUAL, [plain()])
    real = core_handler(redis)
    refusals = [RedisOutOfMemoryError("OOM command not allowed"), RedisReadOnlyError("READONLY replica")] * 2

    async def redis_refuses_writes_for_a_while(batch: list[Received]) -> Outcome:
        if refusals:
            raise refusals.pop()
        return await real(batch)

    await send(env["producer"], received)
    rec = env["recorder"]
    await run_until(
        consumer(env, redis_refuses_writes_for_a_while, f"full-{unique_id()}"),
        lambda: rec.events(received.order_key, OrderStatusChanged),
    )
    assert not refusals
    assert rec.events(received.order_key, DeadLetter) == []
    await redis.aclose()


async def test_redis_going_away_holds_the_batch_until_it_returns_and_loses_nothing(env, servers):
    _, redis_server, state = servers
    redis = Redis(port=env["redis_port"], socket_timeout=2, socket_connect_timeout=2)
    received = order(MANUAL, [mug()])
    rec = env["recorder"]
    loop = consumer(env, core_handler(redis), f"outage-{unique_id()}")
    task = asyncio.create_task(loop.run())
    try:
        redis_server.stop()
        await send(env["producer"], received)
        await asyncio.sleep(3)
        assert rec.events(received.order_key, OrderStatusChanged) == []
        restarted = start_redis(state, port=redis_server.port)  # same port, same AOF folder
        redis_server.process = restarted.process
        for _ in range(400):
            if rec.events(received.order_key, PersonalizationRequested):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        assert count(rec.events(received.order_key), PersonalizationRequested) == 1
        assert count(rec.events(received.order_key), OrderStatusChanged) == 1
    finally:
        loop.stop()
        await asyncio.wait_for(task, 15)
        await redis.aclose()


async def test_a_message_whose_event_is_too_large_for_the_broker_is_dead_lettered_and_the_partition_commits(env):
    """The net under every handler: a record over the brokers' limit was a KafkaError, retried forever."""
    partitions = len(await env["producer"].partitions_for(ORDERS_RECEIVED))
    huge = order(MANUAL, [plain()], number=number_on_partition(MANUAL, 0, partitions))
    fine = order(MANUAL, [plain()], number=number_on_partition(MANUAL, 0, partitions))
    answers = {huge.order_key: "x" * 1_200_000, fine.order_key: "changed mind"}

    async def cancels(batch: list[Received]) -> Outcome:
        mine = [i.event.order_key for i in batch if i.event.order_key in answers]  # the topic has other tests' too
        return Outcome(outgoing=[CancelOrder(order_key=key, reason=answers[key]) for key in mine])

    sent = [
        await env["producer"].send_and_wait(ORDERS_RECEIVED, encode(e), key=e.order_key.encode()) for e in (huge, fine)
    ]
    rec, group = env["recorder"], f"too-large-{unique_id()}"
    await run_until(
        consumer(env, cancels, group),
        lambda: rec.events(huge.order_key, DeadLetter) and rec.events(fine.order_key, CancelOrder),
    )
    (dead,) = rec.events(huge.order_key, DeadLetter)
    assert "CancelOrder" in dead.error and "over the limit of 1,000,000 bytes" in dead.error
    assert rec.events(huge.order_key, CancelOrder) == []
    assert (
        await committed(env["settings"].kafka_bootstrap, group, TopicPartition(ORDERS_RECEIVED, 0))
        >= sent[1].offset + 1
    )
