"""Core's consume loop on a Redis that cannot serve for a while: each outage reply is waited out, never dead-lettered.

Before: NOREPLICAS and BUSY arrived as plain `ResponseError`s, so the loop took them for a bad message, retried it
three times and dead-lettered a valid order; a demoted primary stayed green in readiness. Real broker, real
redis-server processes, the real core handler on the service's client (`redis_client`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from core.directory import StaticConfig
from core.handlers import CoreHandler
from core.store import RedisOrderStore
from devstack.embedded import LOOPBACK, EmbeddedServer, start_broker
from plumbing.consumer import BatchConsumer, ConsumerOptions
from plumbing.kafka import ensure_topics, make_producer
from plumbing.ops import redis_probe
from plumbing.redis_client import redis_client
from plumbing.settings import Settings
from schemas import EVENTS_BY_TOPIC, ORDERS_RECEIVED, DeadLetter, OrderStatusChanged, utc_now
from tests.builders import MANUAL, load_test_config, order, plain
from tests.plumbing.redis_nodes import admin, eventually, start_node
from tests.support import Recorder, send, unique_id

pytestmark = pytest.mark.integration  # starts servers of its own

Outage = Callable[[Redis, EmbeddedServer], Awaitable[Callable[[], Awaitable[object]]]]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    state: Path = tmp_path_factory.mktemp("redis-outages")
    broker, first, second = start_broker(state), start_node(state, "first"), start_node(state, "second")
    yield broker, first, second
    for server in (broker, first, second):
        server.stop()


@pytest.fixture(scope="module")
async def env(servers) -> AsyncIterator[dict]:
    broker, _, _ = servers
    settings = Settings(kafka_bootstrap=broker.address, topic_partitions=2)
    await ensure_topics(settings, EVENTS_BY_TOPIC)
    producer = make_producer(settings)
    await producer.start()
    recorder = Recorder(broker.address, list(EVENTS_BY_TOPIC))
    await recorder.start()
    yield {"settings": settings, "producer": producer, "recorder": recorder}
    await recorder.stop()
    await producer.stop()


async def demoted(control: Redis, other: EmbeddedServer) -> Callable[[], Awaitable[object]]:
    await control.replicaof(LOOPBACK, other.port)
    return lambda: control.replicaof("NO", "ONE")


async def short_of_replicas(control: Redis, other: EmbeddedServer) -> Callable[[], Awaitable[object]]:
    await control.config_set("min-replicas-to-write", 1)  # it has none: every write answers NOREPLICAS
    return lambda: control.config_set("min-replicas-to-write", 0)


async def busy_with_a_script(control: Redis, other: EmbeddedServer) -> Callable[[], Awaitable[object]]:
    await control.config_set("lua-time-limit", 50)
    busy = Redis(host=LOOPBACK, port=int(control.connection_pool.connection_kwargs["port"]))
    spinning = asyncio.create_task(busy.eval("while true do end", 0))  # read-only, so SCRIPT KILL can end it
    await asyncio.sleep(0.2)  # past lua-time-limit: every other client is answered BUSY

    async def kill() -> None:
        await control.script_kill()
        await asyncio.gather(spinning, return_exceptions=True)  # "Script killed by user"
        await busy.aclose()

    return kill


OUTAGES: dict[str, Outage] = {"READONLY": demoted, "NOREPLICAS": short_of_replicas, "BUSY": busy_with_a_script}


def infra_retries(group: str) -> float:
    return (
        REGISTRY.get_sample_value("personalize_consumer_batches_total", {"group": group, "result": "infra_retry"}) or 0
    )


@pytest.mark.parametrize("code", sorted(OUTAGES))
async def test_a_redis_that_cannot_serve_for_a_while_is_waited_out_and_nothing_is_dead_lettered(env, servers, code):
    _, first, second = servers
    client = redis_client(Settings(redis_url=f"redis://{first.address}/0"))
    control = admin(first)
    group = f"{code.lower()}-{unique_id()}"
    handler = CoreHandler(RedisOrderStore(client), StaticConfig(load_test_config()), timedelta(minutes=15), utc_now)
    options = ConsumerOptions(
        group,
        (ORDERS_RECEIVED,),
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
        retry_base_s=0.05,
        infra_backoff_max_s=0.5,
    )
    loop = BatchConsumer(env["settings"].kafka_bootstrap, env["producer"], handler, options)
    received = order(MANUAL, [plain()])
    rec: Recorder = env["recorder"]
    running = asyncio.create_task(loop.run())
    end_outage = await OUTAGES[code](control, second)
    ended = False
    try:
        await send(env["producer"], received)

        async def retried_more_than_the_message_attempts() -> bool:
            return infra_retries(group) > options.message_attempts

        await eventually(retried_more_than_the_message_attempts, f"the batch rewound on {code}")
        assert rec.events(received.order_key, DeadLetter) == []  # the old loop's third try dead-lettered it
        if code == "READONLY":
            assert not await redis_probe(client)(), "a replica is not ready, though it answers PING"

        await end_outage()
        ended = True

        async def handled() -> bool:
            return bool(rec.events(received.order_key, OrderStatusChanged))

        await eventually(handled, "the order handled once Redis serves again")
        assert rec.events(received.order_key, DeadLetter) == []
        assert await redis_probe(client)()
    finally:
        if not ended:  # the next test shares the server
            await end_outage()
        loop.stop()
        await asyncio.wait_for(running, 15)
        await control.aclose()
        await client.aclose()
