"""The ops tests' own broker, Redis and SMTP server (some tests pause them), and helpers to run and stop services."""

from __future__ import annotations

import asyncio
import inspect
import json
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from devstack.embedded import free_port
from tests.builders import CONFIG_PATH
from tests.servers import own_bus, own_servers
from tests.support import ServiceProcess, unique_id

# The bound the issue sets; the services' own watchdog fires at 9 s.
SHUTDOWN_BOUND_S = 10.0


servers = own_servers("ops")
bus = own_bus()


def service_env(servers: dict, **extra: str) -> dict[str, str]:
    """What every service needs, with its own consumer groups so a test starts from a clean slate."""
    group = unique_id()
    return {
        "PERSONALIZE_KAFKA_BOOTSTRAP": servers["broker"].address,
        "PERSONALIZE_REDIS_URL": f"redis://{servers['redis'].address}/0",
        "PERSONALIZE_CONFIG": str(CONFIG_PATH),
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "PERSONALIZE_LOG_FORMAT": "json",
        "PERSONALIZE_OPS_PORT": str(free_port()),
        "PERSONALIZE_CORE_GROUP": f"ops-core-{group}",
        "PERSONALIZE_NOTIFIER_GROUP": f"ops-notifier-{group}",
        "PERSONALIZE_HOOKS_GROUP": f"ops-hooks-{group}",
        "PERSONALIZE_EDITOR_GROUP": f"ops-editor-{group}",
        "PERSONALIZE_SMTP_URL": servers["mail"].url,
        "PERSONALIZE_PUBLIC_URL": "https://personalize.example.com",
        "PERSONALIZE_EDITOR_SECRET": "ops-test-editor-secret-" + "y" * 24,
        "PERSONALIZE_ASSETS_DIR": str(servers["state"] / "assets"),
        **extra,
    }


async def poll(check: Callable[[], bool | Awaitable[bool]], within_s: float, every_s: float = 0.1) -> bool:
    """Whether `check` comes to hold within `within_s`, asked every `every_s`.

    What these tests wait on (another process's HTTP answers, its log, the mail it sent) can set no Event here.
    """
    try:
        async with asyncio.timeout(within_s):
            while not await _holds(check):  # noqa: ASYNC110 - nothing to wait on but the answer itself (see above)
                await asyncio.sleep(every_s)
    except TimeoutError:
        return False
    return True


async def _holds(check: Callable[[], bool | Awaitable[bool]]) -> bool:
    answer = check()
    return bool(await answer) if inspect.isawaitable(answer) else bool(answer)


class Running:
    """A service process, the address of its ops routes and, if it has one, of its public port."""

    def __init__(self, service: ServiceProcess, ops_port: int, public_port: int | None = None) -> None:
        self.service = service
        self.ops_url = f"http://127.0.0.1:{ops_port}"
        self.url = f"http://127.0.0.1:{public_port}" if public_port else self.ops_url

    async def get(self, path: str, *, public: bool = False) -> httpx.Response:
        """`path` on the ops port, or on the public one."""
        async with httpx.AsyncClient(timeout=5) as http:
            return await http.get((self.url if public else self.ops_url) + path)

    async def wait_ready(self, within_s: float = 60.0) -> None:
        if not await poll(self._ready, within_s):
            raise AssertionError(f"not ready in {within_s}s:\n{self.service.log_tail()}")

    async def _ready(self) -> bool:
        assert self.service.process.poll() is None, self.service.log_tail()
        try:
            return (await self.get("/health/ready")).status_code == 200
        except httpx.HTTPError:
            return False

    def terminate(self) -> tuple[float, int]:
        """SIGTERM, then (seconds until the process was gone, its exit code)."""
        started = time.monotonic()
        self.service.process.send_signal(signal.SIGTERM)
        try:
            code = self.service.process.wait(SHUTDOWN_BOUND_S + 20)
        except Exception:
            self.service.kill()
            raise
        return time.monotonic() - started, code

    def json_lines(self) -> list[dict]:
        """Every complete line of the log, each parsed: any line that is not one JSON object fails the test.

        The service may be halfway through writing a line while a test polls its log; that line counts once its
        newline is written."""
        *complete, _in_progress = self.service.log_path.read_text().split("\n")
        return [json.loads(line) for line in complete if line.strip()]


async def start(
    command: list[str], env: dict[str, str], log: Path, port: int | None = None, *, ops_port: int | None = None
) -> Running:
    """The service, once ready: `port` is its public one (if any), `ops_port` else PERSONALIZE_OPS_PORT its ops one."""
    service = ServiceProcess(command, env, log)
    service.start()
    running = Running(service, ops_port or int(env["PERSONALIZE_OPS_PORT"]), port)
    await running.wait_ready()
    return running
