"""`personalize connector etsy` as deployed (its app from PERSONALIZE_ETSY_*, the registry on): a merchant connects a
sandbox shop in the browser, with no YAML store and no restart, the connector reads the shop's orders with
the token the flow obtained and verifies its webhooks with the app's endpoint secret; afterwards no token or
secret is found in clear in PostgreSQL, Redis, any topic or the connector's log."""

from __future__ import annotations

import asyncio
import base64
import random
from pathlib import Path

import httpx
import yaml
from redis.asyncio import Redis

from connectors.main import client_for
from connectors.registry import adapter_for
from connectors.stores import new_key
from connectors.tokens_auth import KeptAuth
from devstack.embedded import free_port
from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.etsy import AUTH_PATH, TOKEN_PATH, EtsySandbox
from schemas import OrderReceived, StoreConnected
from tests.connectors.etsy_oauth import KEYSTRING, SHARED_SECRET, consent, sandbox_shop
from tests.connectors.test_tokens import World
from tests.secrets_sweep import Leftovers, postgres_rows, redis_values, topic_records
from tests.support import InProcessServer, ServiceProcess

ENDPOINT_SECRET = "whsec_" + base64.b64encode(b"the app's one etsy endpoint secret").decode()


def test_a_connected_stores_client_carries_the_kept_token_and_a_yaml_stores_its_configured_one() -> None:
    world = World()
    keeper = world.keeper()
    base = {"platform": "etsy", "store_id": "s", "merchant_email": "m@example.com", "base_url": "https://api.etsy.com"}
    pasted = {"keystring": "k", "shared_secret": "s", "access_token": "1.t", "shop_id": "1"}
    connected = {**pasted, "refresh_token": "1.r", "expires_at": "1900000000"}
    adapter = adapter_for("etsy")
    kept = client_for(adapter, StoreConfig.model_validate({**base, "credentials": connected}), keeper)
    yaml_store = client_for(adapter, StoreConfig.model_validate({**base, "credentials": pasted}), keeper)
    assert isinstance(kept.auth, KeptAuth) and not isinstance(yaml_store.auth, KeptAuth)


async def eventually(check, what: str, within_s: float = 45.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_merchant_connects_an_etsy_shop_to_the_running_connector(
    broker, redis_server, postgres, recorder, tmp_path: Path
) -> None:
    shop_id = str(random.randint(10_000_000, 99_999_999))
    port, ops = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    shop = sandbox_shop(shop_id).model_copy(update={"webhook_secret": ENDPOINT_SECRET})
    sandbox = InProcessServer()
    await sandbox.start(make_sandbox_app(EtsySandbox(), shop, webhook_url=f"{base}/webhooks/etsy"))
    config = tmp_path / "config.yaml"  # no store: the shop arrives through the browser
    config.write_text(
        yaml.safe_dump({"templates": {"mug": {"title": "Mug", "fields": [{"name": "n", "type": "text"}]}}})
    )
    env = {
        "PERSONALIZE_KAFKA_BOOTSTRAP": broker.address,
        "PERSONALIZE_REDIS_URL": f"redis://{redis_server.address}/3",
        "PERSONALIZE_CONFIG": str(config),
        "PERSONALIZE_DATABASE_URL": postgres.url,
        "PERSONALIZE_CREDENTIALS_KEY": new_key(),
        "PERSONALIZE_CONNECTOR_PORT": str(port),
        "PERSONALIZE_OPS_PORT": str(ops),
        "PERSONALIZE_CONNECT_BASE_URL": base,
        "PERSONALIZE_ETSY_CLIENT_ID": KEYSTRING,
        "PERSONALIZE_ETSY_CLIENT_SECRET": SHARED_SECRET,
        "PERSONALIZE_ETSY_AUTH_URL": sandbox.url + AUTH_PATH,
        "PERSONALIZE_ETSY_TOKEN_URL": sandbox.url + TOKEN_PATH,
        "PERSONALIZE_ETSY_API_URL": sandbox.url,
        "PERSONALIZE_ETSY_WEBHOOK_SECRET": ENDPOINT_SECRET,
        "PERSONALIZE_TOKEN_REFRESH_MARGIN": "1s",
    }
    connector = ServiceProcess(["connector", "etsy"], env, tmp_path / "connector.log")
    connector.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            etsy = httpx.AsyncClient(base_url=sandbox.url, timeout=10)
            await etsy.post("/_sandbox/oauth", json={"redirect_uris": [f"{base}/connect/etsy/callback"]})
            placed = (await etsy.post("/_sandbox/orders", json={"webhook": False})).json()["id"]

            async def ready() -> bool:
                try:
                    return (await http.get(f"http://127.0.0.1:{ops}/health/ready")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, "the connector to be ready")
            started = await http.get(f"{base}/connect/etsy/start", params={"merchant_email": "maker@example.com"})
            assert started.status_code == 302, started.text
            page = await http.get(await consent(etsy, started.headers["location"]))
            assert page.status_code == 200 and "Store connected" in page.text, page.text

            key = f"etsy:{shop_id}"
            await recorder.wait_for(key, lambda es: any(isinstance(e, StoreConnected) for e in es), 30)
            events = await recorder.wait_for(
                f"{key}:{placed}", lambda es: any(isinstance(e, OrderReceived) for e in es), 45
            )
            [order] = [e for e in events if isinstance(e, OrderReceived)]
            assert order.store_id == shop_id

            # Signed with the app's one endpoint secret, as Etsy signs every shop's: 200, not 401.
            hooked = (await etsy.post("/_sandbox/orders", json={"webhook": False})).json()["id"]
            delivery = await etsy.post(f"/_sandbox/orders/{hooked}/webhook", json={"event": "created"})
            assert delivery.json()["statuses"] == [200], delivery.text
            await recorder.wait_for(f"{key}:{hooked}", lambda es: any(isinstance(e, OrderReceived) for e in es), 30)
            await etsy.aclose()
    finally:
        assert await asyncio.to_thread(connector.stop) == 0, connector.log_tail()
        await sandbox.stop()
    oauth = sandbox.app.state.sandbox.oauth
    issued = [*oauth._access, *oauth._refresh, *oauth._dead_refresh]  # every token the shop's grant was given
    left = Leftovers()
    left.add("the connector's log", connector.log_path.read_text(errors="replace"))
    assert await asyncio.to_thread(postgres_rows, postgres.url, left) > 0
    redis = Redis.from_url(f"redis://{redis_server.address}/3")
    try:
        assert await redis_values(redis, left) > 0
    finally:
        await redis.aclose()
    assert await topic_records(broker.address, ["stores", "orders.received", "dead-letters"], left) > 0
    seen = left.found({"merchant email": "maker@example.com"})  # the sweep reads what is there, in clear
    assert {"merchant email in topic stores", "merchant email in postgres connectors.stores"} <= set(seen), seen
    secrets = {f"token {n}": t for n, t in enumerate(issued)} | {"shared secret": SHARED_SECRET}
    assert issued and left.found({**secrets, "webhook secret": ENDPOINT_SECRET}) == []
