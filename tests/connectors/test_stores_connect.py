"""A store connected from the command line while core and a connector run: no YAML edit, no restart.

Its own broker and Redis: the core started here reads every order topic from the start, and must not see
(or answer) the other tests' orders.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from psycopg import AsyncConnection
from redis.asyncio import Redis

from connectors.stores import new_key
from core.directory import Directory
from devstack.embedded import EmbeddedPostgres, EmbeddedServer, free_port, start_broker, start_redis
from plumbing.config import ProductMatch, StoreConfig, load_config
from plumbing.kafka import ensure_topics
from plumbing.settings import Settings
from sandboxes.base import make_sandbox_app
from sandboxes.main import sandbox_for
from schemas import EVENTS_BY_TOPIC, STORES, PersonalizationRequested, StoreConnected, StoreDisconnected
from tests.secrets_sweep import Leftovers, postgres_rows, redis_values, topic_records
from tests.support import InProcessServer, Recorder, ServiceProcess

STORE_ID = "woo-connected-later"
KEY = f"woocommerce:{STORE_ID}"
CREDENTIALS = {
    "consumer_key": "ck_9d2f71c0a4e6b8",
    "consumer_secret": "cs_51e0b7a3c9d4f2",
    "webhook_secret": "whsec-woo-3a7c1e9b5d",
}
EMAIL = "connected-later@example.com"


@dataclass
class Running:
    env: dict[str, str]
    redis: Redis
    recorder: Recorder
    connector_port: int
    second_port: int
    folder: Path
    config_path: Path
    postgres_url: str
    processes: dict[str, ServiceProcess]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedServer, EmbeddedServer]]:
    state = tmp_path_factory.mktemp("stores-connect")
    broker, redis = start_broker(state), start_redis(state)
    yield broker, redis
    redis.stop()
    broker.stop()


@pytest.fixture
async def running(servers, postgres: EmbeddedPostgres, tmp_path: Path) -> AsyncIterator[Running]:
    broker, redis_server = servers
    await ensure_topics(Settings(kafka_bootstrap=broker.address, topic_partitions=2), EVENTS_BY_TOPIC)
    async with await AsyncConnection.connect(postgres.url, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS connectors CASCADE")
        await conn.execute("DROP TABLE IF EXISTS personalize_migrations")
    config_path = tmp_path / "config.yaml"  # no store at all: the store arrives through the registry
    config_path.write_text(
        yaml.safe_dump({"templates": {"name-mug": {"title": "Name mug", "fields": [{"name": "name", "type": "text"}]}}})
    )
    connector_port, second_port = free_port(), free_port()
    env = {
        "PERSONALIZE_KAFKA_BOOTSTRAP": broker.address,
        "PERSONALIZE_REDIS_URL": f"redis://{redis_server.address}/0",
        "PERSONALIZE_CONFIG": str(config_path),
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "PERSONALIZE_DATABASE_URL": postgres.url,
        "PERSONALIZE_CREDENTIALS_KEY": new_key(),
        "PERSONALIZE_LINK_DELAY": "0s",
    }
    ops = {"core": free_port(), "connector": free_port(), "connector-2": free_port()}
    processes = {
        "core": ServiceProcess(["core"], {**env, "PERSONALIZE_OPS_PORT": str(ops["core"])}, tmp_path / "core.log"),
        "connector": ServiceProcess(
            ["connector", "woocommerce"],
            {**env, "PERSONALIZE_CONNECTOR_PORT": str(connector_port), "PERSONALIZE_OPS_PORT": str(ops["connector"])},
            tmp_path / "connector.log",
        ),
        # A second copy: each reads the `stores` topic in a group of its own, so both follow every store.
        "connector-2": ServiceProcess(
            ["connector", "woocommerce"],
            {**env, "PERSONALIZE_CONNECTOR_PORT": str(second_port), "PERSONALIZE_OPS_PORT": str(ops["connector-2"])},
            tmp_path / "connector-2.log",
        ),
    }
    recorder = Recorder(broker.address, list(EVENTS_BY_TOPIC))
    await recorder.start()
    redis = Redis.from_url(env["PERSONALIZE_REDIS_URL"])
    for process in processes.values():
        process.start()
    try:
        async with httpx.AsyncClient(timeout=2) as http:  # both ready (joined their groups) before the store exists
            for name, port in ops.items():
                await eventually(
                    lambda port=port: _status_is(http, f"http://127.0.0.1:{port}/health/ready", 200, "GET"),
                    f"{name} to be ready",
                )
        yield Running(env, redis, recorder, connector_port, second_port, tmp_path, config_path, postgres.url, processes)
    finally:
        for name, process in processes.items():
            assert await asyncio.to_thread(process.stop) == 0, f"{name}:\n{process.log_tail()}"
        await recorder.stop()
        await redis.aclose()


async def stores_command(env: dict[str, str], *args: str, stdin: str = "") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "personalize.cli",
        "stores",
        *args,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode())
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def eventually(check, what: str, within_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_store_connected_from_the_command_line_takes_orders_then_disconnects_and_is_left_alone(running):
    sandbox = InProcessServer()
    webhook_url = f"http://127.0.0.1:{running.connector_port}/webhooks/woocommerce/{STORE_ID}"
    store = StoreConfig.model_validate(
        {
            "platform": "woocommerce",
            "store_id": STORE_ID,
            "merchant_email": EMAIL,
            "base_url": sandbox.url,
            "credentials": {k: v for k, v in CREDENTIALS.items() if k != "webhook_secret"},
            "webhook_secret": CREDENTIALS["webhook_secret"],
        }
    )
    await sandbox.start(make_sandbox_app(sandbox_for("woocommerce"), store, webhook_url))
    state = sandbox.app.state.sandbox
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            # Given core and a connector running with no store in the YAML, when a store is connected:
            code, out, err = await stores_command(
                running.env,
                *("connect", "woocommerce", STORE_ID, "--merchant-email", EMAIL, "--base-url", sandbox.url),
                *("--poll-interval", "1s", "--start-from", "2000-01-01T00:00:00Z"),
                stdin=json.dumps(CREDENTIALS),
            )
            assert code == 0, err
            await running.recorder.wait_for(KEY, lambda es: any(isinstance(e, StoreConnected) for e in es))
            # ... core learns it (the merchant API reads the same directory and adds its catalog) ...
            directory = Directory(running.redis, load_config(running.config_path))
            await eventually(lambda: _known(directory), "core to learn the store")
            await directory.put_product("woocommerce", STORE_ID, ProductMatch(product_id="93", template="name-mug"))
            keys = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "personalize.cli", "keys", "create", "--store", KEY),
                env={**os.environ, **running.env},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err_bytes = await keys.communicate()
            assert keys.returncode == 0, err_bytes.decode()  # the merchant API's key for a store the YAML never had
            # ... and the connector starts polling it, without a restart.
            await eventually(lambda: _true(state.api_calls > 0), "the connector to call the new store")
            copies = [webhook_url, webhook_url.replace(str(running.connector_port), str(running.second_port))]
            for url in copies:  # routed by both copies: an unsigned delivery is refused, not unknown
                await eventually(lambda url=url: _status_is(http, url, 401), f"{url} to route the store")

            placed = (await http.post(f"{sandbox.url}/_sandbox/orders", json={})).json()
            order_key = f"{KEY}:{placed['id']}"
            events = await running.recorder.wait_for(
                order_key, lambda es: any(isinstance(e, PersonalizationRequested) for e in es), 60
            )
            [request] = [e for e in events if isinstance(e, PersonalizationRequested)]
            assert request.merchant_email == EMAIL

            # When it is disconnected:
            code, out, err = await stores_command(running.env, "disconnect", KEY, "--reason", "the test is over")
            assert code == 0, err
            events = await running.recorder.wait_for(KEY, lambda es: any(isinstance(e, StoreDisconnected) for e in es))
            assert [e.reason for e in events if isinstance(e, StoreDisconnected)] == ["the test is over"]
            async with await AsyncConnection.connect(running.postgres_url) as conn:
                row = await (
                    await conn.execute(
                        "SELECT status, credentials FROM connectors.stores WHERE platform = %s AND store_id = %s",
                        ("woocommerce", STORE_ID),
                    )
                ).fetchone()
            assert row == ("disconnected", None)
            # ... its webhooks are no longer routed, and its polls stop: the sandbox hears nothing more.
            for url in copies:
                await eventually(lambda url=url: _status_is(http, url, 404), f"{url} to stop routing the store")
            calls = state.api_calls
            await asyncio.sleep(3.5)  # three poll intervals and a half
            assert state.api_calls == calls

            code, out, _ = await stores_command(running.env, "list")
            assert code == 0 and KEY in out and "disconnected" in out and "the test is over" in out
    finally:
        await sandbox.stop()

    # No credential in clear anywhere it went: PostgreSQL, Redis, the `stores` topic, the logs, the command's output.
    left = Leftovers()
    assert await asyncio.to_thread(postgres_rows, running.postgres_url, left) > 0
    assert await redis_values(running.redis, left) > 0
    assert await topic_records(running.env["PERSONALIZE_KAFKA_BOOTSTRAP"], [STORES], left) > 0
    left.add("the list command's output", out)
    for name, process in running.processes.items():
        left.add(f"{name} log", process.log_path.read_bytes())
    assert left.found({f"credential {name}": value for name, value in CREDENTIALS.items()}) == []


async def _known(directory: Directory) -> bool:
    return await directory.known("woocommerce", STORE_ID) is not None


async def _true(value: bool) -> bool:
    return value


async def _status_is(http: httpx.AsyncClient, url: str, status: int, method: str = "POST") -> bool:
    try:
        return (await http.request(method, url, content=b"{}")).status_code == status
    except httpx.TransportError:  # not listening yet
        return False


async def test_yaml_stores_are_seeded_once_and_registry_stores_survive_a_restart(servers, postgres, tmp_path):
    broker, redis_server = servers
    async with await AsyncConnection.connect(postgres.url, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS connectors CASCADE")
        await conn.execute("DROP TABLE IF EXISTS personalize_migrations")
    yaml_sandbox, registry_sandbox = InProcessServer(), InProcessServer()
    yaml_store = {
        "platform": "woocommerce",
        "store_id": "woo-from-yaml",
        "merchant_email": "yaml@example.com",
        "base_url": yaml_sandbox.url,
        "credentials": {"consumer_key": "ck_yaml_1", "consumer_secret": "cs_yaml_1"},
        "webhook_secret": "whs-yaml-1",
        "poll_interval": "1s",
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({"stores": [yaml_store]}))
    registry_store = StoreConfig.model_validate({**yaml_store, "store_id": STORE_ID, "base_url": registry_sandbox.url})
    await yaml_sandbox.start(make_sandbox_app(sandbox_for("woocommerce"), load_config(config_path).stores[0]))
    await registry_sandbox.start(make_sandbox_app(sandbox_for("woocommerce"), registry_store))
    env = {
        "PERSONALIZE_KAFKA_BOOTSTRAP": broker.address,
        "PERSONALIZE_REDIS_URL": f"redis://{redis_server.address}/1",
        "PERSONALIZE_CONFIG": str(config_path),
        "PERSONALIZE_DATABASE_URL": postgres.url,
        "PERSONALIZE_CREDENTIALS_KEY": new_key(),
    }
    recorder = Recorder(broker.address, [STORES])
    await recorder.start()
    try:
        for start in range(2):
            ops = free_port()
            connector = ServiceProcess(
                ["connector", "woocommerce"],
                {**env, "PERSONALIZE_CONNECTOR_PORT": str(free_port()), "PERSONALIZE_OPS_PORT": str(ops)},
                tmp_path / f"connector-{start}.log",
            )
            connector.start()
            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    url = f"http://127.0.0.1:{ops}/health/ready"
                    await eventually(lambda url=url: _status_is(http, url, 200, "GET"), "the connector")
                if start == 0:  # a store of the registry only, connected while the first copy runs
                    code, _, err = await stores_command(
                        env,
                        *("connect", "woocommerce", STORE_ID, "--merchant-email", EMAIL),
                        *("--base-url", registry_sandbox.url, "--poll-interval", "1s"),
                        # the key its sandbox has: a key answering 401 disconnects the store
                        stdin=json.dumps({"consumer_key": "ck_yaml_1", "consumer_secret": "cs_yaml_1"}),
                    )
                    assert code == 0, err
                for sandbox in (yaml_sandbox, registry_sandbox):
                    calls = sandbox.app.state.sandbox.api_calls
                    await eventually(
                        lambda s=sandbox, c=calls: _true(s.app.state.sandbox.api_calls > c), f"polls of {sandbox.url}"
                    )
            finally:
                assert await asyncio.to_thread(connector.stop) == 0, connector.log_tail()
        # The YAML store was announced once: the second start found the registry as the YAML says.
        yaml_events = await recorder.wait_for("woocommerce:woo-from-yaml", lambda es: len(es) >= 1)
        assert [e.event_type for e in yaml_events] == ["StoreConnected"]
        code, out, _ = await stores_command(env, "list")
        assert code == 0 and "woocommerce:woo-from-yaml" in out and KEY in out and "cs_yaml_1" not in out
    finally:
        await recorder.stop()
        await yaml_sandbox.stop()
        await registry_sandbox.stop()
