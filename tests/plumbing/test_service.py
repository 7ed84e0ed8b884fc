"""The service lifecycle's order, with fakes for Kafka, Redis, the consumers and the servers (no server runs).

What starts in which order, what stops in which order, and that a failure at any point closes what was already
opened. The real processes' stop (signals, the deadline, committed batches) is in tests/plumbing/ops.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from plumbing import service as lifecycle
from plumbing.consumer import Outcome, Received
from plumbing.service import Service, waiting_pool
from plumbing.settings import Settings
from tests.plumbing.service_fakes import FakeConsumer, FakeOps, FakeProducer, FakeRedis, FakeServer, Journal

log = logging.getLogger("tests.service")


@pytest.fixture
def journal(monkeypatch: pytest.MonkeyPatch) -> Journal:
    """The lifecycle's clients replaced by fakes that write to one journal."""
    written: Journal = []

    async def ensure_topics(settings: Settings, topics: tuple[str, ...]) -> None:
        written.append("topics " + ",".join(topics))

    async def serve_ops(health: object, host: str, port: int) -> FakeOps:
        written.append(f"ops on {host}:{port}")
        return FakeOps(written)

    monkeypatch.setattr(lifecycle, "ensure_topics", ensure_topics)
    monkeypatch.setattr(lifecycle, "make_producer", lambda settings, cluster: FakeProducer(written))
    monkeypatch.setattr(
        lifecycle, "BatchConsumer", lambda bootstrap, producer, handle, options: FakeConsumer(written, options.group_id)
    )
    monkeypatch.setattr(lifecycle, "service_server", lambda app, host, port, **options: FakeServer(written))
    monkeypatch.setattr(lifecycle, "serve_ops", serve_ops)
    return written


def settings(**overrides: object) -> Settings:
    chosen = Settings(kafka_bootstrap="broker:9092", redis_url="redis://redis:6379/0", ops_port=None)
    return chosen.model_copy(update=overrides)


def service(journal: Journal, stop: asyncio.Event, **options: object) -> Service:
    return Service(
        "fake", settings(), ("in", "out"), log, redis=lambda s: FakeRedis(journal, s.redis_url), stop=stop, **options
    )


async def no_handler(received: list[Received]) -> Outcome:
    raise AssertionError("the fake consumer handles nothing")


async def test_it_opens_in_order_and_stops_in_the_reverse_order_after_the_tasks_finish(journal, caplog):
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger=log.name)
    async with service(journal, stop) as running:
        consumer = running.consumer("consumer", no_handler, "group-a", ("in",))
        running.watch("consumer", consumer.run())

        async def close_mailer() -> None:
            journal.append("mailer closed")

        running.closes(close_mailer)
        await running.serve_ops(8801)
        journal.append("wired")
        asyncio.get_running_loop().call_soon(stop.set)  # as SIGTERM does
        await running.run()
        journal.append("stop asked")

    assert journal == [
        "topics in,out",
        "redis opened redis://redis:6379/0",
        "producer started",
        "ops on 127.0.0.1:8801",
        "wired",
        "stop asked",
        "group-a stops fetching",
        "group-a finished its batch",
        "ops stopped",
        "mailer closed",
        "producer stopped",
        "redis closed",
    ]
    assert caplog.messages[-1] == "fake stopped"


async def test_readiness_asks_redis_kafka_and_each_consumer_and_turns_down_once_the_stop_begins(journal):
    stop = asyncio.Event()
    seen_while_stopping: list[dict[str, bool]] = []
    async with service(journal, stop) as running:
        consumer = running.consumer("consumer", no_handler, "group-a", ("in",))
        hooks = running.consumer("hooks_consumer", no_handler, "group-b", ("hooks",))
        assert await running.health.ready() == {"redis": True, "kafka": True, "consumer": True, "hooks_consumer": True}
        consumer.joined = False
        assert (await running.health.ready())["consumer"] is False

        async def notices_the_stop() -> None:
            await running.stop.wait()
            seen_while_stopping.append(await running.health.ready())

        running.watch("consumer", consumer.run())
        running.watch("hooks_consumer", hooks.run())
        running.watch("scheduler", notices_the_stop())
        assert running.health.live() == {"loop": True, "consumer": True, "hooks_consumer": True, "scheduler": True}
        stop.set()
        await running.run()
    assert seen_while_stopping[0]["stopping"] is False
    assert journal.index("group-a stops fetching") < journal.index("group-a finished its batch")
    assert journal.index("group-b finished its batch") < journal.index("producer stopped")


async def test_the_ops_port_is_the_setting_when_set_and_the_services_default_otherwise(journal):
    for ops_port, expected in ((None, 8800), (9100, 9100)):
        configured = settings(ops_port=ops_port, ops_host="0.0.0.0")
        async with Service(
            "fake", configured, (), log, redis=lambda s: FakeRedis(journal, s.redis_url), stop=asyncio.Event()
        ) as running:
            await running.serve_ops(8800)
        assert f"ops on 0.0.0.0:{expected}" in journal


async def test_topics_that_cannot_be_created_open_nothing(journal, monkeypatch):
    async def refuse(settings: Settings, topics: tuple[str, ...]) -> None:
        raise RuntimeError("cannot create topic in")

    monkeypatch.setattr(lifecycle, "ensure_topics", refuse)
    with pytest.raises(RuntimeError, match="cannot create topic"):
        async with service(journal, asyncio.Event()):
            raise AssertionError("the wiring must not run")
    assert journal == []


async def test_a_producer_that_does_not_start_closes_redis_and_runs_no_wiring(journal, monkeypatch):
    monkeypatch.setattr(lifecycle, "make_producer", lambda settings, cluster: FakeProducer(journal, fails=True))
    with pytest.raises(ConnectionError, match="no broker"):
        async with service(journal, asyncio.Event()):
            raise AssertionError("the wiring must not run")
    assert journal == ["topics in,out", "redis opened redis://redis:6379/0", "producer did not start", "redis closed"]


async def test_a_failure_in_the_wiring_halts_the_tasks_and_closes_what_was_opened(journal):
    with pytest.raises(ValueError, match="bad template"):
        async with service(journal, asyncio.Event()) as running:
            consumer = running.consumer("consumer", no_handler, "group-a", ("in",))
            running.watch("consumer", consumer.run())
            await running.serve_ops(8801)
            raise ValueError("bad template")
    assert journal[-5:] == [
        "group-a stops fetching",
        "group-a finished its batch",
        "ops stopped",
        "producer stopped",
        "redis closed",
    ]


async def test_an_http_server_that_fails_ends_the_service_with_its_error_after_an_orderly_stop(journal, monkeypatch):
    monkeypatch.setattr(lifecycle, "service_server", lambda app, host, port, **options: FakeServer(journal, fails=True))
    stop = asyncio.Event()
    with pytest.raises(OSError, match="address already in use"):
        async with service(journal, stop) as running:
            consumer = running.consumer("consumer", no_handler, "group-a", ("in",))
            running.watch("consumer", consumer.run())
            running.serve_http(object(), "127.0.0.1", 8600)
            await running.run()  # no signal comes: the server's end is what ends it
    assert stop.is_set(), "the tasks that watch the stop were told"
    assert journal[-5:] == [
        "group-a stops fetching",
        "server stops accepting",
        "group-a finished its batch",
        "producer stopped",
        "redis closed",
    ]


async def test_a_stop_halts_consumers_and_the_server_before_waiting_for_them(journal):
    stop = asyncio.Event()
    async with service(journal, stop) as running:
        consumer = running.consumer("consumer", no_handler, "group-a", ("in",))
        running.watch("consumer", consumer.run())
        running.serve_http(object(), "127.0.0.1", 8600)
        stop.set()
        await running.run()
    assert journal[3:] == [
        "group-a stops fetching",
        "server stops accepting",
        "group-a finished its batch",
        "server done",
        "producer stopped",
        "redis closed",
    ]


async def test_the_main_task_ending_by_itself_ends_the_service_and_its_error_is_the_services(journal):
    async def consume_until_it_breaks() -> None:
        await asyncio.sleep(0)
        raise KeyError("lost the partition table")

    stop = asyncio.Event()
    with pytest.raises(KeyError, match="lost the partition table"):
        async with service(journal, stop) as running:
            await running.run(consume_until_it_breaks())
    assert journal[-2:] == ["producer stopped", "redis closed"]
    assert running.health.live() == {"loop": True}, "the main task is not a watched one"


async def test_a_task_that_outlasts_the_grace_is_cancelled_and_the_clients_still_close(journal):
    cancelled = asyncio.Event()

    async def ignores_the_stop() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    stop = asyncio.Event()
    async with service(journal, stop, grace_s=0.05) as running:
        running.watch("poll shop-1", ignores_the_stop())
        stop.set()
        await running.run()
    assert cancelled.is_set()
    assert journal[-2:] == ["producer stopped", "redis closed"]


async def test_a_stop_cancelled_while_it_waits_for_the_tasks_still_closes_the_clients(journal):
    stop = asyncio.Event()
    waiting = asyncio.Event()
    held: list[asyncio.Task] = []

    async def serve() -> None:
        async with service(journal, stop) as running:

            async def holds_on() -> None:
                await running.stop.wait()  # set by the stop, which waits for this task now
                waiting.set()
                await asyncio.sleep(60)  # a batch stuck on an outage, no grace: only the signal's deadline ends it

            held.append(running.watch("consumer", holds_on()))
            await running.run(asyncio.sleep(0))  # the main task ends by itself: the service stops

    serving = asyncio.create_task(serve())
    await waiting.wait()
    serving.cancel()  # as asyncio.run does when the loop is torn down
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert journal[-2:] == ["producer stopped", "redis closed"]
    held[0].cancel()


async def test_a_waiting_pool_keeps_its_size_and_wait():
    redis = waiting_pool(connections=64, wait_s=10)(settings())
    try:
        assert (redis.connection_pool.max_connections, redis.connection_pool.timeout) == (64, 10)
    finally:
        await redis.aclose()
