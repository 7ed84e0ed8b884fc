"""A BigCommerce store connected by installing the app, with the connector running as production runs it: no
YAML store, no restart. The install registers the order hooks, an order's delivery is accepted by the store's
own header and read, and the uninstall leaves no credential in PostgreSQL and the hooks unanswered."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import yaml
from psycopg import AsyncConnection

from connectors.stores import new_key
from devstack.embedded import free_port
from plumbing.config import StoreConfig
from plumbing.kafka import ensure_topics
from plumbing.settings import Settings
from sandboxes.base import make_sandbox_app
from sandboxes.bigcommerce import AUTH_PATH, SANDBOX, TOKEN_PATH, world
from schemas import EVENTS_BY_TOPIC, OrderReceived, StoreConnected, StoreDisconnected
from tests.connectors.test_bigcommerce_connect import CLIENT_ID, CLIENT_SECRET, OWNER, STORE_HASH, install_from
from tests.connectors.test_stores_connect import _status_is, eventually
from tests.secrets_sweep import Leftovers, postgres_rows
from tests.support import InProcessServer, Recorder, ServiceProcess

KEY = f"bigcommerce:{STORE_HASH}"
MERCHANT = "bc-app-merchant@example.com"


async def test_installed_app_store_takes_orders_by_its_hooks_and_uninstall_disconnects_it(
    broker, redis_server, postgres, tmp_path: Path
) -> None:
    await ensure_topics(Settings(kafka_bootstrap=broker.address, topic_partitions=2), EVENTS_BY_TOPIC)
    async with await AsyncConnection.connect(postgres.url, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS connectors CASCADE")
        await conn.execute("DROP TABLE IF EXISTS personalize_migrations")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({"stores": []}))
    sandbox, port, ops = InProcessServer(), free_port(), free_port()
    connector_url = f"http://127.0.0.1:{port}"
    store = StoreConfig.model_validate(
        {
            "platform": "bigcommerce",
            "store_id": "bc-sandbox",
            "merchant_email": OWNER,
            "base_url": sandbox.url,
            "credentials": {"store_hash": STORE_HASH, "client_id": CLIENT_ID},
            "webhook_secret": CLIENT_SECRET,
        }
    )
    await sandbox.start(make_sandbox_app(SANDBOX, store))
    env = {
        "PERSONALIZE_KAFKA_BOOTSTRAP": broker.address,
        "PERSONALIZE_REDIS_URL": f"redis://{redis_server.address}/2",
        "PERSONALIZE_CONFIG": str(config_path),
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "PERSONALIZE_DATABASE_URL": postgres.url,
        "PERSONALIZE_CREDENTIALS_KEY": new_key(),
        "PERSONALIZE_CONNECTOR_PORT": str(port),
        "PERSONALIZE_OPS_PORT": str(ops),
        "PERSONALIZE_CONNECT_BASE_URL": connector_url,
        "PERSONALIZE_BIGCOMMERCE_CLIENT_ID": CLIENT_ID,
        "PERSONALIZE_BIGCOMMERCE_CLIENT_SECRET": CLIENT_SECRET,
        "PERSONALIZE_BIGCOMMERCE_AUTH_URL": sandbox.url + AUTH_PATH,
        "PERSONALIZE_BIGCOMMERCE_TOKEN_URL": sandbox.url + TOKEN_PATH,
        "PERSONALIZE_BIGCOMMERCE_API_URL": sandbox.url,
    }
    connector = ServiceProcess(["connector", "bigcommerce"], env, tmp_path / "connector.log")
    recorder = Recorder(broker.address, list(EVENTS_BY_TOPIC))
    await recorder.start()
    connector.start()
    hooks = world(sandbox.app.state.sandbox).hooks
    try:
        async with httpx.AsyncClient(timeout=10) as browser:
            await eventually(lambda: _status_is(browser, f"http://127.0.0.1:{ops}/health/ready", 200, "GET"), "ready")
            await browser.post(
                f"{sandbox.url}/_sandbox/oauth",
                json={
                    "redirect_uris": [f"{connector_url}/connect/bigcommerce/callback"],
                    "uninstall_url": f"{connector_url}/connect/bigcommerce/uninstall",
                },
            )
            # The merchant installs the app from our Connect button.
            answer = await install_from(browser, connector_url, sandbox.url, MERCHANT)
            assert answer.headers["location"].endswith("/install/succeeded"), answer.text
            await recorder.wait_for(KEY, lambda es: any(isinstance(e, StoreConnected) for e in es))
            assert sorted(h.scope for h in hooks.items.values()) == ["store/order/created", "store/order/updated"]
            # Routed at once, even before this copy has read StoreConnected (it asks the registry): a hook without
            # the store's token is a 401, not a 404.
            hook_url = f"{connector_url}/webhooks/bigcommerce/{STORE_HASH}"
            assert await _status_is(browser, hook_url, 401)

            # An order: BigCommerce's hook delivers it, the connector accepts it (the store's header) and reads it.
            placed = (await browser.post(f"{sandbox.url}/_sandbox/orders", json={})).json()
            events = await recorder.wait_for(
                f"{KEY}:{placed['id']}", lambda es: any(isinstance(e, OrderReceived) for e in es), 60
            )
            [received] = [e for e in events if isinstance(e, OrderReceived)]
            assert received.store_id == STORE_HASH
            await eventually(lambda: _true(bool(hooks.deliveries)), "the hook's delivery")
            [accepted] = [d["status"] for d in hooks.deliveries if d["scope"] == "store/order/created"]
            assert isinstance(accepted, int) and 200 <= accepted < 300  # once, not refused and retried

            # The merchant uninstalls: BigCommerce calls our Uninstall callback, the store is disconnected.
            done = (await browser.post(f"{sandbox.url}/_sandbox/app/uninstall")).json()
            assert done == {"uninstall_callback": 200, "hooks_deleted": 2}
            events = await recorder.wait_for(KEY, lambda es: any(isinstance(e, StoreDisconnected) for e in es))
            async with await AsyncConnection.connect(postgres.url) as conn:
                row = await (
                    await conn.execute(
                        "SELECT status, credentials FROM connectors.stores WHERE platform = %s AND store_id = %s",
                        ("bigcommerce", STORE_HASH),
                    )
                ).fetchone()
            assert row == ("disconnected", None)
            hook_url = f"{connector_url}/webhooks/bigcommerce/{STORE_HASH}"
            await eventually(lambda: _status_is(browser, hook_url, 404), "the store's hooks to be unrouted")
    finally:
        assert await asyncio.to_thread(connector.stop) == 0, connector.log_tail()
        await recorder.stop()
        await sandbox.stop()
    left = Leftovers()
    assert await asyncio.to_thread(postgres_rows, postgres.url, left) > 0
    left.add("connector log", connector.log_path.read_bytes())
    assert left.found({"the app's client secret": CLIENT_SECRET}) == []


async def _true(value: bool) -> bool:
    return value
