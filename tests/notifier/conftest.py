"""The notifier's own broker, Redis and SMTP server, and `personalize notifier` as a real process."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI, Request, Response
from redis.asyncio import Redis

from tests.builders import CONFIG_PATH
from tests.servers import own_bus, own_servers
from tests.support import InProcessServer, ServiceProcess

LINK_TTL = "4s"
HOOK_SECRET = "whsec_" + base64.b64encode(b"automation-secret-of-32-bytes!!!").decode()


class HookReceiver:
    """A merchant's automation endpoint: records every delivery; answers 500 to the first `fail_first`."""

    def __init__(self, fail_first: int = 1) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=500 if len(self.received) <= self.fail_first else 204)


@pytest.fixture(scope="module")
async def hooks() -> AsyncIterator[tuple[HookReceiver, InProcessServer]]:
    receiver, server = HookReceiver(), InProcessServer()
    await server.start(receiver.app)
    yield receiver, server
    await server.stop()


@pytest.fixture(scope="module")
def config_path(servers: dict, hooks: tuple[HookReceiver, InProcessServer]) -> Path:
    """The shared test config, with an automation webhook on the manual store."""
    config = yaml.safe_load(CONFIG_PATH.read_text())
    config["stores"][0]["webhooks"] = [
        {
            "url": f"{hooks[1].url}/hook",
            "secret": HOOK_SECRET,
            "events": [
                "PersonalizationLinkIssued",
                "OrderStatusChanged",
                "PersonalizationReminderSent",
                "PersonalizationLinkExpired",
            ],
        }
    ]
    path = servers["state"] / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


servers = own_servers("notifier", scope="module")
bus = own_bus(scope="module")


def notifier_env(servers: dict, smtp_url: str | None = None, **extra: str) -> dict[str, str]:
    return {
        "PERSONALIZE_KAFKA_BOOTSTRAP": servers["broker"].address,
        "PERSONALIZE_REDIS_URL": f"redis://{servers['redis'].address}/0",
        "PERSONALIZE_CONFIG": str(servers["state"] / "config.yaml"),
        "PERSONALIZE_SMTP_URL": smtp_url or servers["mail"].url,
        "PERSONALIZE_LINK_TTL": LINK_TTL,
        "PERSONALIZE_PUBLIC_URL": "https://personalize.example.com",
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "PERSONALIZE_HOOKS_ALLOW_LOCAL": "true",  # the automation receiver is a local http server
        **extra,
    }


@pytest.fixture(scope="module")
async def notifier(servers: dict, bus: dict, config_path: Path) -> AsyncIterator[ServiceProcess]:
    service = ServiceProcess(["notifier"], notifier_env(servers), servers["state"] / "notifier.log")
    service.start()
    yield service
    assert await asyncio.to_thread(service.stop) == 0, service.log_tail()


def log_path(servers: dict, name: str) -> Path:
    return servers["state"] / f"{name}.log"


@pytest.fixture
async def store_redis(redis_url: str) -> AsyncIterator[Redis]:
    """The session Redis, database 13: the store suites' own, so no notifier process there claims their timers."""
    client = Redis.from_url(redis_url.rsplit("/", 1)[0] + "/13")
    yield client
    await client.aclose()
