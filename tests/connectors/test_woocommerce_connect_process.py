"""A merchant connects a WooCommerce store to a running `personalize connector woocommerce` (registry in
PostgreSQL, no store in the YAML, no restart): the sandbox store POSTs its keys over HTTP, the connector verifies
them, connects the store, registers its order webhooks (each ping answered 200), and an order placed in the store
arrives through them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest
import yaml
from psycopg import AsyncConnection

from connectors.stores import new_key
from devstack.embedded import EmbeddedPostgres, free_port
from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.woocommerce import SANDBOX
from schemas import OrderReceived
from tests.support import InProcessServer, Recorder, ServiceProcess

pytestmark = pytest.mark.integration  # a connector process and an HTTP server of their own

EMAIL = "connect-process@example.com"


@pytest.fixture
async def running(
    bootstrap: str, redis_url: str, topics: list[str], postgres: EmbeddedPostgres, tmp_path: Path
) -> AsyncIterator[tuple[int, InProcessServer, httpx.AsyncClient]]:
    async with await AsyncConnection.connect(postgres.url, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS connectors CASCADE")
        await conn.execute("DROP TABLE IF EXISTS personalize_migrations")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"templates": {"mug": {"title": "Mug", "fields": [{"name": "n", "type": "text"}]}}})
    )
    port, ops = free_port(), free_port()
    connector = ServiceProcess(
        ["connector", "woocommerce"],
        {
            "PERSONALIZE_KAFKA_BOOTSTRAP": bootstrap,
            "PERSONALIZE_REDIS_URL": redis_url,
            "PERSONALIZE_CONFIG": str(config),
            "PERSONALIZE_DATABASE_URL": postgres.url,
            "PERSONALIZE_CREDENTIALS_KEY": new_key(),
            "PERSONALIZE_CONNECTOR_PORT": str(port),
            "PERSONALIZE_OPS_PORT": str(ops),
            "PERSONALIZE_CONNECT_BASE_URL": f"http://127.0.0.1:{port}",
            "PERSONALIZE_WEBHOOK_HEALTH_INTERVAL": "2s",
        },
        tmp_path / "connector.log",
    )
    sandbox = InProcessServer()
    store = StoreConfig(
        platform="woocommerce",
        store_id="the-sandbox",
        merchant_email="yaml@example.com",
        base_url=sandbox.url,
        credentials={"consumer_key": "ck_sandbox_admin", "consumer_secret": "cs_sandbox_admin"},
    )
    await sandbox.start(make_sandbox_app(SANDBOX, store))
    connector.start()
    try:
        async with httpx.AsyncClient(timeout=15) as http:
            await eventually(lambda: _ready(http, f"http://127.0.0.1:{ops}/health/ready"), "the connector")
            yield port, sandbox, http
    finally:
        assert await asyncio.to_thread(connector.stop) == 0, connector.log_tail()
        await sandbox.stop()


async def test_a_store_connected_in_the_browser_gets_its_webhooks_and_its_orders_arrive_by_them(
    running, bootstrap: str
) -> None:
    port, sandbox, http = running
    recorder = Recorder(bootstrap, ["orders.received"])
    await recorder.start()
    try:
        started = await http.get(
            f"http://127.0.0.1:{port}/connect/woocommerce/start",
            params={"merchant_email": EMAIL, "store_url": sandbox.url},
        )
        assert started.status_code == 302, started.text
        page = await http.get(started.headers["location"])
        approve = unescape(re.search(r'href="([^"]+)" class="[^"]*wc-auth-approve"', page.text).group(1))
        granted = await http.get(f"{sandbox.url}{approve}")
        assert granted.status_code == 302, granted.text  # the key POST was answered 200
        done = await http.get(granted.headers["location"])
        assert done.status_code == 200 and "Store connected" in done.text

        hooks = SANDBOX.hooks(sandbox.app.state.sandbox)
        store_id = f"127.0.0.1_{sandbox.port}"
        ours = f"http://127.0.0.1:{port}/webhooks/woocommerce/{store_id}"

        async def registered() -> bool:
            active = [h for h in hooks.hooks.values() if h.status == "active" and h.delivery_url == ours]
            return len(active) == 4 and all(h.ping_answer == 200 for h in active)

        await eventually(registered, "the store's four webhooks, pinged 200")

        placed = (await http.post(f"{sandbox.url}/_sandbox/orders", json={})).json()["id"]
        key = f"woocommerce:{store_id}:{placed}"
        await recorder.wait_for(key, lambda events: any(isinstance(e, OrderReceived) for e in events), 30)
        await eventually(lambda: _true(any(d["order_id"] == str(placed) for d in hooks.deliveries)), "the delivery")
        assert [d["answer"] for d in hooks.deliveries if d["order_id"] == str(placed)] == [200]
    finally:
        await recorder.stop()


async def eventually(check, what: str, within_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(url)).status_code == 200
    except httpx.TransportError:
        return False


async def _true(value: bool) -> bool:
    return value
