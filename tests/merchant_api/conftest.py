"""The merchant API as it runs: `personalize api` and `personalize core` as subprocesses on a broker and Redis
of their own (the tests change store settings, which must not reach the other tests' core), keys made per store."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from devstack.embedded import EmbeddedServer, free_port, start_broker, start_redis
from merchant_api.keys import ApiKeys
from schemas import Event, OrderReceived, OrderStatusChanged
from tests.builders import mug, order
from tests.support import Recorder, ServiceProcess, event_bus, send

CONFIG = Path(__file__).parent / "config.yaml"
A, B, LISTED, LIVE, FUZZ = (
    ("woocommerce", "shop-a"),
    ("bigcommerce", "shop-b"),
    ("squarespace", "shop-list"),
    ("wix", "shop-live"),
    ("etsy", "shop-fuzz"),
)


def name(store: tuple[str, str]) -> str:
    return f"{store[0]}:{store[1]}"


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    redis_url: str
    producer: object
    recorder: Recorder
    keys: dict[str, str]  # store name (or "operator") -> key
    core: ServiceProcess
    api: ServiceProcess

    def client(self, store: tuple[str, str] | str | None = None, key: str | None = None) -> httpx.AsyncClient:
        """A client with the key of `store` (a name, a tuple, or "operator"), or with `key`, or with none."""
        if store is not None and key is None:
            key = self.keys[store if isinstance(store, str) else name(store)]
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=15)


@pytest.fixture(scope="session")
def api_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedServer, EmbeddedServer]]:
    state = tmp_path_factory.mktemp("api-stack")
    broker, redis = start_broker(state), start_redis(state)
    yield broker, redis
    broker.stop()
    redis.stop()


@pytest.fixture(scope="session")
async def stack(api_servers, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    broker, redis_server = api_servers
    logs = tmp_path_factory.mktemp("api-logs")
    redis_url = f"redis://{redis_server.address}/0"
    port, ops_port = free_port(), free_port()
    env = {
        "PERSONALIZE_KAFKA_BOOTSTRAP": broker.address,
        "PERSONALIZE_REDIS_URL": redis_url,
        "PERSONALIZE_CONFIG": str(CONFIG),
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "PERSONALIZE_OPS_PORT": "0",
        "PERSONALIZE_API_PORT": str(port),
        "PERSONALIZE_LOG_FORMAT": "text",
    }
    async with event_bus(broker.address) as bus:
        core = ServiceProcess(["core"], env, logs / "core.log")
        api = ServiceProcess(["api"], {**env, "PERSONALIZE_OPS_PORT": str(ops_port)}, logs / "api.log")
        core.start()
        api.start()
        keys = await _keys(redis_url)
        stack = Stack(f"http://127.0.0.1:{port}", env, redis_url, bus["producer"], bus["recorder"], keys, core, api)
        try:
            await _until_up(stack, f"http://127.0.0.1:{ops_port}")
            yield stack
        finally:
            assert api.stop() == 0, api.log_tail()
            assert core.stop() == 0, core.log_tail()


async def _keys(redis_url: str) -> dict[str, str]:
    redis = Redis.from_url(redis_url)
    try:
        keys = ApiKeys(redis)
        made = {name(store): (await keys.create(name(store), label="tests"))[1] for store in (A, B, LISTED, LIVE, FUZZ)}
        made["operator"] = (await keys.create(None, label="tests"))[1]
        return made
    finally:
        await redis.aclose()


async def _until_up(stack: Stack, ops_url: str) -> None:
    """The API is ready (on its ops port) and core has decided an order (it joined its group)."""
    warm_up = order(B, [mug()])
    await send(stack.producer, warm_up)
    try:
        await stack.recorder.wait_for(warm_up.order_key, lambda es: bool(statuses(es)), 60)
    except AssertionError:
        raise AssertionError(f"core did not come up:\n{stack.core.log_tail()}") from None
    async with httpx.AsyncClient(base_url=ops_url, timeout=2) as http:
        for _ in range(300):
            try:
                if (await http.get("/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if stack.api.process.poll() is not None:
                break
            await asyncio.sleep(0.1)
    raise AssertionError(f"the API did not come up:\n{stack.api.log_tail()}")


def personalize(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "personalize.cli", *args],
        env={**os.environ, **env},
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def statuses(events: list[Event]) -> list[str]:
    return [e.to_status.value for e in events if isinstance(e, OrderStatusChanged)]


async def placed(stack: Stack, received: OrderReceived, *expected: str) -> OrderReceived:
    """Send an order to core and wait until core published (so wrote) the statuses expected."""
    await send(stack.producer, received)
    await stack.recorder.wait_for(received.order_key, lambda es: statuses(es)[: len(expected)] == list(expected), 30)
    return received


async def settled(stack: Stack, order_key: str, *expected: str) -> list[Event]:
    return await stack.recorder.wait_for(order_key, lambda es: statuses(es) == list(expected), 30)


async def published(stack: Stack, order_key: str, kind: type[Event], count: int = 1) -> list[Event]:
    """The order's events of `kind` once `count` of them arrived (each topic is read on its own: wait for it)."""
    events = await stack.recorder.wait_for(order_key, lambda es: sum(isinstance(e, kind) for e in es) >= count, 30)
    return [e for e in events if isinstance(e, kind)]


async def eventually(read, check):
    """Poll `await read()` until `check` holds: for what shows in core's Redis rather than on a topic."""
    deadline = asyncio.get_running_loop().time() + 30
    while not check(value := await read()):
        assert asyncio.get_running_loop().time() < deadline, f"still {value!r}"
        await asyncio.sleep(0.05)
    return value
