"""A connector's webhook endpoint in this process, for the tests of what it answers before anything is published:
pings, refused ids, paths. The producer records what would go to Kafka; the fetcher what it would fetch; no Redis
(nothing here reaches the dedupe)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis
from starlette.types import ASGIApp

from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.platform import PlatformAdapter
from connectors.webhooks import make_app
from plumbing.config import StoreConfig
from schemas import decode


@dataclass
class Recorded:
    sent: list[tuple[str, bytes]] = field(default_factory=list)
    queued: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> asyncio.Future:
        self.sent.append((topic, value))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def enqueue(self, store: StoreConfig, order_id: str) -> bool:
        self.queued.append((store.key, order_id))
        return True

    def published(self) -> list:
        return [decode(topic, value) for topic, value in self.sent]


def connector_app(adapter: PlatformAdapter, store: StoreConfig) -> tuple[ASGIApp, Recorded]:
    recorded = Recorded()
    intake = Intake(adapter, cast(AIOKafkaProducer, recorded), cast(Redis, None))
    return make_app(adapter, {store.store_id: store}, intake, cast(ThinFetcher, recorded)), recorded


@asynccontextmanager
async def webhook_client(
    adapter: PlatformAdapter, store: StoreConfig
) -> AsyncIterator[tuple[httpx.AsyncClient, Recorded]]:
    app, recorded = connector_app(adapter, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://connector") as http:
        yield http, recorded
