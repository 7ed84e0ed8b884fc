"""One deployable's life, written once: what it opens at start, what it serves, and the order it stops in.

Every `<service>/main.py` is its wiring inside `async with Service(...) as service:`; this module owns the
rest, the same way for all of them:

- **start**: the service's topics exist, then its Redis client (`plumbing.redis_client`: the URL or the
  Sentinels, the service's own pool) and its Kafka producer, each to be closed again; readiness asks both
  (`plumbing.ops`). A failure on the way closes what
  was already opened, and nothing is served.
- **run**: until SIGTERM/SIGINT (`stop_on_signals`, with its deadline), or until a task the service cannot go
  on without ends by itself (its HTTP server, core's consume loop); that one's error is the service's error.
- **stop**, in this order: readiness turns 503 (a load balancer drains the copy first); consumers stop
  fetching, the HTTP server stops accepting, and the tasks that watch `stop` see it; the tasks finish what
  they hold (a batch is handled and committed) within `grace_s`, or are cancelled after it, leaving their
  records uncommitted for the next owner; then what was opened closes, last opened first (the ops server and
  the service's own clients, then the producer, then Redis); and the service says it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from types import TracebackType
from typing import Any

from starlette.types import ASGIApp

from plumbing.consumer import BatchConsumer, Handler, consumer_options
from plumbing.kafka import ensure_topics, make_producer
from plumbing.lifecycle import stop_on_signals
from plumbing.ops import Health, OpsServer, consumer_probe, kafka_probe, redis_probe, serve_ops, service_server
from plumbing.redis_client import RedisFactory, follow_primary, redis_client, waiting_pool
from plumbing.settings import Settings

__all__ = ["HTTP_GRACE_S", "RedisFactory", "Service", "waiting_pool"]
Work = Coroutine[Any, Any, object]

# How long an HTTP service's stop waits for its server and tasks: a client holding a connection open, or a
# poll waiting on a slow platform, must not hold the process until the signal's deadline kills it.
HTTP_GRACE_S = 5.0


class Service:
    """The lifecycle of one deployable, as an async context manager (see the module's docs for the order)."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        topics: Iterable[str],
        log: logging.Logger,
        *,
        redis: RedisFactory = redis_client,
        stop: asyncio.Event | None = None,
        grace_s: float | None = None,
    ) -> None:
        """`grace_s` None lets the tasks finish however long they take: the signal's deadline bounds it."""
        self._name = name
        self._settings = settings
        self._topics = tuple(topics)
        self._log = log
        self._connect = redis
        self._grace_s = grace_s
        self.stop = stop or stop_on_signals()
        self.health = Health()
        self._closing = contextlib.AsyncExitStack()
        self._halts: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task] = []
        self._essential: list[asyncio.Task] = []

    async def __aenter__(self) -> Service:
        try:
            cluster = await ensure_topics(self._settings, self._topics)
            self.redis = self._connect(self._settings)
            self._closing.push_async_callback(self.redis.aclose)
            self.producer = make_producer(self._settings, cluster)
            await self.producer.start()
            self._closing.push_async_callback(self.producer.stop)
        except BaseException:
            await self._closing.aclose()
            raise
        self.health.ready_when("redis", redis_probe(self.redis)).ready_when("kafka", kafka_probe(self.producer))
        self._start(follow_primary(self.redis, self.stop))  # ends at once unless Redis is the Sentinels'
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.health.stopping = True
        for halt in self._halts:
            halt()
        self.stop.set()
        try:
            await self._finish_tasks()
        finally:  # cancelled while waiting (the loop is being torn down): the clients still close
            await self._closing.aclose()
        self._log.info("%s stopped", self._name)
        if error is None:
            self._raise_what_ended_it()

    def consumer(
        self, name: str, handle: Handler, group: str, topics: Sequence[str], max_records: int = 500
    ) -> BatchConsumer:
        """A consume loop on the service's producer: ready once it has joined its group, halted first at a stop."""
        consumer = BatchConsumer(
            self._settings.required_bootstrap(),
            self.producer,
            handle,
            consumer_options(self._settings, group, topics, max_records),
        )
        self.health.ready_when(name, consumer_probe(consumer))
        self._halts.append(consumer.stop)
        return consumer

    def watch(self, name: str, work: Work) -> asyncio.Task:
        """Run `work` until the stop; its ending by itself before then makes the process not live."""
        return self.health.watch(name, self._start(work))

    def closes(self, close: Callable[[], Awaitable[object]]) -> None:
        """Call `close` at the stop, after the tasks have finished and before the producer and Redis close."""
        self._closing.push_async_callback(close)

    async def serve_ops(self, default_port: int) -> OpsServer:
        """The ops routes on PERSONALIZE_OPS_PORT (else `default_port`), apart from any public port."""
        port = default_port if self._settings.ops_port is None else self._settings.ops_port
        ops = await serve_ops(self.health, self._settings.ops_host, port)
        self.closes(ops.stop)
        return ops

    def serve_http(self, app: ASGIApp, host: str, port: int, **options: Any) -> None:
        """Serve the service's own app: it stops accepting at the stop, and its ending first ends the service."""
        server = service_server(app, host, port, **options)

        def stop_accepting() -> None:
            server.should_exit = True

        self._halts.append(stop_accepting)
        self._essential.append(self._start(server.serve()))

    async def run(self, main: Work | None = None) -> None:
        """Until a stop is asked for, or until `main` or the HTTP server ends by itself."""
        if main is not None:
            self._essential.append(self._start(main))
        stopping = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait([stopping, *self._essential], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()

    def _start(self, work: Work) -> asyncio.Task:
        task = asyncio.create_task(work)
        self._tasks.append(task)
        return task

    async def _finish_tasks(self) -> None:
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=self._grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _raise_what_ended_it(self) -> None:
        for task in self._essential:
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error
