"""A platform's sandbox (in this process) and its connector (a real `personalize connector` process).

To test a new platform end to end: give it an adapter (`connectors/<p>/`), a
sandbox (`sandboxes/<p>.py`) and a store (`tests/connectors/stores/<p>.py`);
the generic tests in `test_end_to_end.py` pick it up. Its unit tests are a
`test_<p>.py` subclassing the platform contract (`contract.py`).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from devstack.embedded import free_port
from plumbing.config import load_config
from sandboxes.base import make_sandbox_app
from sandboxes.main import sandbox_for
from schemas import PLATFORMS
from tests.support import InProcessServer, ServiceProcess


def _stores() -> dict[str, dict[str, Any]]:
    """Per platform (tests/connectors/stores/<platform>.py): the store's credentials, webhook secret,
    a catalog entry and an order line that matches it, as the config gives them to both sides."""
    found = {}
    for platform in PLATFORMS:
        try:
            found[platform] = importlib.import_module(f"tests.connectors.stores.{platform}").STORE
        except ModuleNotFoundError:
            pass
    return found


STORES = _stores()


def built_platforms() -> list[str]:
    found = []
    for platform in STORES:
        try:
            importlib.import_module(f"sandboxes.{platform}")
            if getattr(importlib.import_module(f"connectors.{platform}"), "ADAPTER", None):
                found.append(platform)
        except ModuleNotFoundError:
            pass
    return found


def write_config(path: Path, platform: str, sandbox_url: str, **store_extra: Any) -> Path:
    store = STORES[platform]
    extra = {
        k: v for k, v in store.items() if k not in ("store_id", "credentials", "webhook_secret", "product", "item")
    }
    config = {
        "templates": {
            "name-mug": {"title": "Name mug", "fields": [{"name": "name", "type": "text", "max_length": 20}]}
        },
        "stores": [
            {
                "platform": platform,
                "store_id": store["store_id"],
                "merchant_email": "e2e@example.com",
                "products": [{**store["product"], "template": "name-mug"}],
                "base_url": sandbox_url,
                "credentials": store["credentials"],
                "webhook_secret": store["webhook_secret"],
                "poll_interval": "1s",
                "start_from": "2000-01-01T00:00:00Z",
                **extra,
                **store_extra,
            }
        ],
    }
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class Stack:
    platform: str
    store_id: str
    sandbox: InProcessServer
    connector: ServiceProcess
    connector_port: int
    ops_port: int  # its /health and /metrics: not on the public port
    http: httpx.AsyncClient

    @property
    def state(self):
        return self.sandbox.app.state.sandbox

    @property
    def ops_url(self) -> str:
        return f"http://127.0.0.1:{self.ops_port}"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.connector_port}/webhooks/{self.platform}/{self.store_id}"

    def order_key(self, order_id: str) -> str:
        return f"{self.platform}:{self.store_id}:{order_id}"

    async def place(self, **spec: Any) -> dict[str, Any]:
        response = await self.http.post(f"{self.sandbox.url}/_sandbox/orders", json=spec)
        response.raise_for_status()
        return response.json()

    async def set_status(self, order_id: str, status: str, webhook: bool = True) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.sandbox.url}/_sandbox/orders/{order_id}/status", json={"status": status, "webhook": webhook}
        )
        response.raise_for_status()
        return response.json()

    async def webhooks(self, **settings: Any) -> None:
        (
            await self.http.post(f"{self.sandbox.url}/_sandbox/webhooks", json={"url": self.webhook_url, **settings})
        ).raise_for_status()

    async def redeliver(self, order_id: str, **spec: Any) -> list:
        response = await self.http.post(f"{self.sandbox.url}/_sandbox/orders/{order_id}/webhook", json=spec)
        response.raise_for_status()
        return response.json()["statuses"]

    async def faults(self, **faults: Any) -> None:
        (await self.http.post(f"{self.sandbox.url}/_sandbox/faults", json=faults)).raise_for_status()

    async def wait_healthy(self, within_s: float = 30) -> None:
        deadline = asyncio.get_running_loop().time() + within_s
        while asyncio.get_running_loop().time() < deadline:
            try:
                if (await self.http.get(f"{self.ops_url}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.connector.process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"{self.platform} connector did not come up:\n{self.connector.log_tail()}")


@asynccontextmanager
async def running_stack(
    platform: str, folder: Path, bootstrap: str, redis_url: str, http_timeout: float = 10, **store_extra: Any
) -> AsyncIterator[Stack]:
    """The sandbox served here, sending its webhooks to a connector process started on the given broker and Redis."""
    connector_port, ops_port = free_port(), free_port()
    sandbox = InProcessServer()
    config_path = write_config(folder / "config.yaml", platform, sandbox.url, **store_extra)
    store = load_config(config_path).stores[0]
    webhook_url = f"http://127.0.0.1:{connector_port}/webhooks/{platform}/{store.store_id}"
    await sandbox.start(make_sandbox_app(sandbox_for(platform), store, webhook_url))
    connector = ServiceProcess(
        ["connector", platform],
        {
            "PERSONALIZE_KAFKA_BOOTSTRAP": bootstrap,
            "PERSONALIZE_REDIS_URL": redis_url,
            "PERSONALIZE_CONFIG": str(config_path),
            "PERSONALIZE_CONNECTOR_PORT": str(connector_port),
            "PERSONALIZE_OPS_PORT": str(ops_port),
            # Etsy's daily quota would pace one shop's 1 s poll to 17 s (`connectors.budget.paced`); the
            # sandbox has no daily quota, and these tests are about what each poll reads.
            "PERSONALIZE_ETSY_DAILY_QUOTA": "100000000",
        },
        folder / "connector.log",
    )
    connector.start()
    async with httpx.AsyncClient(timeout=http_timeout) as http:
        stack = Stack(platform, store.store_id, sandbox, connector, connector_port, ops_port, http)
        await stack.wait_healthy()
        yield stack
        # Not blocking the loop: the connector may be mid-poll against the sandbox served by this loop.
        assert await asyncio.to_thread(connector.stop) == 0, connector.log_tail()
    await sandbox.stop()
