"""What an orchestrator and Prometheus ask every deployable: `/metrics`, `/health/live`, `/health/ready`.

- **live**: the process answers. These routes run on the service's own event
  loop, so an answer proves the loop is not stuck; a watched task (a consumer,
  the scheduler) that ended on its own makes it 503 too: the process is alive
  but no longer doing its job, and a restart is the cure.
- **ready**: its dependencies answer and its consumers have joined their
  groups: Redis is the primary (ROLE: a demoted primary still answers PING,
  and refuses every write), broker metadata, and every consumer assigned. 503 from the
  moment a stop begins, so a load balancer drains it first.
- `/health` stays, as an alias of live: it answered 200 whenever the process
  was up, and it must not restart a pod because Redis is briefly away.

Every deployable serves them from its own `OpsServer`, on `PERSONALIZE_OPS_PORT`
(else the service's default below) at `PERSONALIZE_OPS_HOST` (loopback unless
set), never on a public port: the editor's, a connector's and the API's own
apps answer 404 there, since readiness names the dependencies and the metrics
carry store ids in their labels.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from plumbing.redis_client import primary_answers

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from redis.asyncio import Redis

    from plumbing.consumer import BatchConsumer

log = logging.getLogger("plumbing.ops")

Probe = Callable[[], Awaitable[bool]]
PROBE_TIMEOUT_S = 2.0
# Defaults of PERSONALIZE_OPS_PORT, one per deployable so a host can run one of each as they come. Several
# connectors on one host (one per platform) need PERSONALIZE_OPS_PORT each, as `personalize dev` sets it.
CORE_OPS_PORT = 8800
NOTIFIER_OPS_PORT = 8801
EDITOR_OPS_PORT = 8802
API_OPS_PORT = 8803
CONNECTOR_OPS_PORT = 8804


class Health:
    """The service's answers to live and ready: tasks it watches, probes of what it depends on."""

    def __init__(self) -> None:
        self._probes: dict[str, Probe] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self.stopping = False

    def ready_when(self, name: str, probe: Probe) -> Health:
        self._probes[name] = probe
        return self

    def watch(self, name: str, task: asyncio.Task) -> asyncio.Task:
        self._tasks[name] = task
        return task

    def live(self) -> dict[str, bool]:
        return {"loop": True, **{name: not task.done() for name, task in self._tasks.items()}}

    async def ready(self) -> dict[str, bool]:
        names = list(self._probes)
        results = await asyncio.gather(*(_probe(self._probes[n]) for n in names))
        checks = dict(zip(names, results, strict=True))
        if self.stopping:
            checks["stopping"] = False
        return checks


async def _probe(probe: Probe) -> bool:
    try:
        return bool(await asyncio.wait_for(probe(), PROBE_TIMEOUT_S))
    except Exception:  # any failure, a timeout included, means not ready
        return False


def redis_probe(redis: Redis) -> Probe:
    async def is_the_primary() -> bool:
        return await primary_answers(redis)

    return is_the_primary


def kafka_probe(producer: AIOKafkaProducer) -> Probe:
    async def reachable() -> bool:
        await producer.client.fetch_all_metadata()
        return True

    return reachable


def consumer_probe(consumer: BatchConsumer) -> Probe:
    async def joined() -> bool:
        return consumer.joined

    return joined


def _report(checks: dict[str, bool]) -> Response:
    body = ", ".join(f"{name}: {'ok' if ok else 'down'}" for name, ok in checks.items())
    return Response(body, status_code=200 if all(checks.values()) else 503, media_type="text/plain")


def ops_routes(health: Health) -> list[Route]:
    async def live(request: Request) -> Response:
        return _report(health.live())

    async def ready(request: Request) -> Response:
        return _report(await health.ready())

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/health", live),
        Route("/health/live", live),
        Route("/health/ready", ready),
        Route("/metrics", metrics),
    ]


class ServiceServer(uvicorn.Server):
    """uvicorn without its signal handlers: the service owns SIGTERM/SIGINT, to stop consuming before serving."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class OpsServer:
    """The ops routes on their own port, served by the service's event loop."""

    def __init__(self, health: Health, host: str, port: int) -> None:
        self._health = health
        self._host = host
        self._port = port
        self._server: ServiceServer | None = None
        self._task: asyncio.Task | None = None
        self.port: int | None = None

    async def start(self) -> None:
        """Serve, or say loudly why not: a port taken by another copy on this host must not stop the service."""
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as error:
            sock.close()
            log.error(
                "ops endpoint not served: cannot listen on %s:%d (%s); set PERSONALIZE_OPS_PORT",
                self._host,
                self._port,
                error.strerror,
            )
            return
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            Starlette(routes=ops_routes(self._health)),
            log_level="warning",
            access_log=False,
            lifespan="off",
            log_config=None,
        )
        self._server = ServiceServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        log.info("ops endpoint on http://%s:%d/ (metrics, health/live, health/ready)", self._host, self.port)

    async def stop(self) -> None:
        if self._server and self._task:
            self._server.should_exit = True
            await asyncio.gather(self._task, return_exceptions=True)


async def serve_ops(health: Health, host: str, port: int) -> OpsServer:
    server = OpsServer(health, host, port)
    await server.start()
    return server


def service_server(app: ASGIApp, host: str, port: int, **options: Any) -> ServiceServer:
    """The uvicorn server of a deployable's HTTP app, configured one way for all of them.

    Access log off: an editor request line holds a link's token, which must never reach a log (and the
    others keep one log format). `log_config` None: uvicorn's own lines go through our handler (JSON or
    text). Its signal handlers off: the service owns SIGTERM/SIGINT, to stop consuming before serving.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        log_config=None,
        **options,
    )
    return ServiceServer(config)
