"""What a platform's test class is made of: its adapter, store and sandbox, samples, and the client helpers.

`PlatformContract` (contract.py) and `SandboxContract` (sandbox_contract.py) build on it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx

from connectors.client import PlatformClient
from connectors.platform import PlatformAdapter
from plumbing.config import StoreConfig
from sandboxes.base import PlatformSandbox

SAMPLES = Path(__file__).parents[2] / "sandboxes" / "samples"
BUILT = Path(__file__).parent / "samples"


def sample(platform: str, name: str) -> Any:
    """A sample saved from the platform's docs (`sandboxes/samples/SOURCES.md`), parsed."""
    return json.loads(sample_bytes(platform, name))


def sample_bytes(platform: str, name: str) -> bytes:
    return (SAMPLES / platform / name).read_bytes()


def built_sample(name: str) -> Any:
    """A sample built here to a documented shape where the platform publishes none (`samples/README.md`)."""
    return json.loads((BUILT / name).read_text())


def unit_store(platform: str, store_id: str, base_url: str, credentials: dict[str, str], secret: str) -> StoreConfig:
    """The store a platform's unit tests talk to, at the platform's own API host."""
    return StoreConfig(
        platform=platform,
        store_id=store_id,
        merchant_email="m@example.com",
        base_url=base_url,
        credentials=credentials,
        webhook_secret=secret,
    )


class PlatformCase:
    adapter: ClassVar[PlatformAdapter]
    sandbox: ClassVar[PlatformSandbox]
    store: ClassVar[StoreConfig]

    def client(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        store: StoreConfig | None = None,
    ) -> PlatformClient:
        """The client as `connectors.main.client_for` builds it, backing off in milliseconds."""
        store = store or self.store
        return PlatformClient(
            self.adapter.name,
            store.base_url or "",
            headers=self.adapter.headers(store),
            auth=self.adapter.auth(store),
            rate_limit_wait=self.adapter.rate_limit_wait,
            backoff_initial_s=0.01,
            backoff_max_s=0.02,
            transport=transport,
        )

    def list_modified(self, api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
        return self.adapter.list_modified(api, store, since)

    async def poll(
        self, since: datetime, transport: httpx.AsyncBaseTransport | None = None, store: StoreConfig | None = None
    ) -> list[list[dict]]:
        """Every page one poll since `since` hands on."""
        api = self.client(transport, store)
        try:
            return [page async for page in self.list_modified(api, store or self.store, since)]
        finally:
            await api.aclose()

    async def fetch(
        self, order_id: str, transport: httpx.AsyncBaseTransport | None = None, store: StoreConfig | None = None
    ) -> dict:
        api = self.client(transport, store)
        try:
            return await self.adapter.fetch_order(api, store or self.store, order_id)
        finally:
            await api.aclose()
