"""One sandbox store and one connector process per platform, on the session's broker and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from devstack.embedded import free_port
from plumbing.config import load_config
from sandboxes.base import make_sandbox_app
from sandboxes.main import sandbox_for
from tests.connectors.stacks import STORES, Stack, built_platforms, write_config
from tests.support import InProcessServer, ServiceProcess


@pytest.fixture(scope="session", params=built_platforms())
async def stack(request, bootstrap, redis_url, topics, recorder, tmp_path_factory) -> AsyncIterator[Stack]:
    platform = request.param
    folder = tmp_path_factory.mktemp(f"connector-{platform}")
    connector_port = free_port()
    sandbox = InProcessServer()
    config_path = write_config(folder / "config.yaml", platform, sandbox.url)
    store = load_config(config_path).stores[0]
    await sandbox.start(make_sandbox_app(sandbox_for(platform), store,
                                         f"http://127.0.0.1:{connector_port}/webhooks/{platform}/{store.store_id}"))
    connector = ServiceProcess(["connector", platform], {
        "PERSONALIZE_KAFKA_BOOTSTRAP": bootstrap, "PERSONALIZE_REDIS_URL": redis_url,
        "PERSONALIZE_CONFIG": str(config_path), "PERSONALIZE_CONNECTOR_PORT": str(connector_port),
    }, folder / "connector.log")
    connector.start()
    async with httpx.AsyncClient(timeout=10) as http:
        built = Stack(platform, STORES[platform]["store_id"], sandbox, connector, connector_port, http)
        await built.wait_healthy()
        yield built
        # Not blocking the loop: the connector may be mid-poll against the sandbox served by this loop.
        assert await asyncio.to_thread(connector.stop) == 0, connector.log_tail()
    await sandbox.stop()
