"""Helpers the tests share: an outside Kafka client that records what the services publish."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devstack.embedded import free_port, start_broker, start_redis
from devstack.mailcatcher import MailCatcher
from plumbing.ops import ServiceServer
from schemas import Event, decode, encode, topic_of


def unique_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Seen:
    topic: str
    event: Event
    key: bytes | None
    partition: int


class Recorder:
    """Reads every given topic from the start and keeps each event by order key."""

    def __init__(self, bootstrap: str, topics: Iterable[str]) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
        )
        self.by_order: dict[str, list[Seen]] = defaultdict(list)
        self.undecodable: list[tuple[str, bytes]] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self._consumer.stop()

    async def _run(self) -> None:
        async for record in self._consumer:
            try:
                event = decode(record.topic, record.value)
            except ValueError:
                self.undecodable.append((record.topic, record.value))
                continue
            self.by_order[event.order_key].append(Seen(record.topic, event, record.key, record.partition))
            async with self._changed:
                self._changed.notify_all()

    def events(self, order_key: str, event_type: type[Event] | None = None) -> list[Event]:
        return [
            s.event for s in self.by_order.get(order_key, []) if event_type is None or isinstance(s.event, event_type)
        ]

    async def wait_for(
        self, order_key: str, check: Callable[[list[Event]], bool], timeout: float = 30.0
    ) -> list[Event]:
        async def satisfied() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: check(self.events(order_key)))

        try:
            await asyncio.wait_for(satisfied(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"timed out; events for {order_key}: {[e.event_type for e in self.events(order_key)]}"
            ) from None
        return self.events(order_key)


async def send(producer: AIOKafkaProducer, *events: Event) -> None:
    for event in events:
        await producer.send_and_wait(topic_of(event), encode(event), key=event.order_key.encode())


async def send_raw(producer: AIOKafkaProducer, topic: str, value: bytes, key: bytes | None = None) -> None:
    await producer.send_and_wait(topic, value, key=key)


def count(events: list[Event], event_type: type[Event], **fields: object) -> int:
    return sum(1 for e in events if isinstance(e, event_type) and all(getattr(e, k) == v for k, v in fields.items()))


class ServiceProcess:
    """A deployable run as production runs it: `personalize <command>` with only env and config."""

    def __init__(self, command: list[str], env: dict[str, str], log_path) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.process = None

    def start(self) -> None:
        import os
        import subprocess
        import sys

        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.process = subprocess.Popen(
            [sys.executable, "-m", "personalize.cli", *self.command],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=log,
        )
        log.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 15) -> int:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class InProcessServer:
    """uvicorn serving an ASGI app on a free loopback port, in the test's event loop.

    The port is chosen first, so a config can name the URL before the app is built.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.app = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, app) -> None:
        self.app = app
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = ServiceServer(config)  # the test process keeps its signals
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server and self._task:
            self._server.should_exit = True
            await self._task


@asynccontextmanager
async def event_bus(bootstrap: str) -> AsyncIterator[dict]:
    """Every topic created, a producer, and a Recorder of every topic: an outside client of one broker."""
    from plumbing.kafka import ensure_topics
    from plumbing.settings import Settings
    from schemas import EVENTS_BY_TOPIC

    await ensure_topics(Settings(kafka_bootstrap=bootstrap, topic_partitions=4), EVENTS_BY_TOPIC)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    recorder = Recorder(bootstrap, list(EVENTS_BY_TOPIC))
    await recorder.start()
    try:
        yield {"producer": producer, "recorder": recorder}
    finally:
        await recorder.stop()
        await producer.stop()


@contextmanager
def embedded_servers(state: Path, mail: bool = False) -> Iterator[dict]:
    """A test package's own broker and Redis (and SMTP catcher), as its `servers` fixture yields them."""
    broker, redis = start_broker(state), start_redis(state)
    catcher = MailCatcher(state / "mail").start() if mail else None
    try:
        yield {"broker": broker, "redis": redis, "state": state, **({"mail": catcher} if catcher else {})}
    finally:
        if catcher is not None:
            catcher.stop()
        broker.stop()
        redis.stop()
