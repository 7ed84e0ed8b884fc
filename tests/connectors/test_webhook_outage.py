"""A webhook while Redis or the broker is away: 503 with Retry-After (the platform retries), never a 500, and
nothing lost once they are back.

Redis: a real WooCommerce connector process on a redis-server of its own, stopped and started again.
The broker: the connector's app in this process, in front of a producer that refuses while `down` (stopping
the session's broker would take every other test with it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from redis.asyncio import Redis

from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.webhooks import make_app
from connectors.woocommerce import ADAPTER
from connectors.woocommerce.signature import sign
from devstack.embedded import EmbeddedServer, start_redis
from plumbing.config import StoreConfig
from sandboxes.main import sandbox_for
from schemas import OrderReceived
from tests.connectors.stacks import STORES, Stack, running_stack
from tests.support import Recorder, count, unique_id

pytestmark = pytest.mark.integration  # starts servers or service processes of its own

PLATFORM = "woocommerce"
SAMPLE = Path(__file__).parents[2] / "sandboxes" / "samples" / "woocommerce" / "order_retrieve_v3.json"
QUIET = 2.5  # > 2 poll intervals: long enough for a duplicate to show up if there were one


class OwnRedis:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server: EmbeddedServer = start_redis(folder)

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.stop)

    async def start(self) -> None:
        self.server = await asyncio.to_thread(start_redis, self.folder, self.server.port)


@pytest.fixture(scope="module")
async def woo(bootstrap, topics, tmp_path_factory) -> AsyncIterator[tuple[Stack, OwnRedis]]:
    folder = tmp_path_factory.mktemp("connector-outage")
    redis = OwnRedis(folder)
    # A store of its own: the session broker holds the other end-to-end tests' orders of the usual store,
    # numbered from 5001 like these.
    redis_url = f"redis://{redis.server.address}/0"
    async with running_stack(
        PLATFORM, folder, bootstrap, redis_url, http_timeout=30, store_id=f"outage-{unique_id()}"
    ) as stack:
        yield stack, redis
    redis.server.stop()


async def test_redis_stopped_a_webhook_gets_503_with_retry_after_and_the_order_arrives_once_it_is_back(
    woo, recorder: Recorder
):
    stack, redis = woo
    await stack.webhooks(enabled=True)
    placed = await stack.place(
        items=[{**STORES[PLATFORM]["item"], "quantity": 1, "buyer_text": "Ada", "price": "14.50"}], webhook=False
    )
    key = stack.order_key(placed["id"])
    headers, body = sandbox_for(PLATFORM).webhook(stack.state, stack.state.orders[placed["id"]], "created", thin=False)

    await redis.stop()
    try:
        answer = await stack.http.post(stack.webhook_url, content=body, headers=headers)
        assert answer.status_code == 503, (answer.status_code, answer.text, stack.connector.log_tail())
        assert int(answer.headers["retry-after"]) > 0
        assert await stack.redeliver(placed["id"], event="created") == [503]  # as the platform sees it
        metrics = (await stack.http.get(f"{stack.ops_url}/metrics")).text
        assert 'result="unavailable"' in metrics
    finally:
        await redis.start()

    # The platform's retry (or, failing that, the next poll) brings the order in, once.
    assert (await stack.http.post(stack.webhook_url, content=body, headers=headers)).status_code == 200
    await recorder.wait_for(key, lambda events: count(events, OrderReceived) >= 1)
    await asyncio.sleep(QUIET)
    assert count(recorder.events(key), OrderReceived) == 1


class FlakyProducer:
    """The real producer, or a broker that refuses every send while `down`."""

    def __init__(self, real: AIOKafkaProducer) -> None:
        self.real, self.down = real, False

    async def send(self, *args: object, **kwargs: object) -> asyncio.Future:
        if self.down:
            raise KafkaConnectionError("broker down (test)")
        return await self.real.send(*args, **kwargs)


async def test_the_broker_refusing_a_webhook_gets_503_and_the_redelivery_publishes_it(
    producer, redis_url, recorder: Recorder
):
    store = StoreConfig(
        platform=PLATFORM,
        store_id=f"woo-{unique_id()}",
        merchant_email="m@example.com",
        base_url="https://shop.example.com",
        credentials={"consumer_key": "ck", "consumer_secret": "cs"},
        webhook_secret="outage-secret",
    )
    flaky = FlakyProducer(producer)
    redis = Redis.from_url(redis_url)
    intake = Intake(ADAPTER, flaky, redis)
    app = make_app(ADAPTER, {store.store_id: store}, intake, ThinFetcher(ADAPTER, intake, {}))
    body = SAMPLE.read_bytes()
    headers = {
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Signature": sign("outage-secret", body),
        "Content-Type": "application/json",
    }
    url = f"http://connector/webhooks/{PLATFORM}/{store.store_id}"
    key = f"{PLATFORM}:{store.store_id}:{json.loads(body)['id']}"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False)) as http:
            flaky.down = True
            answer = await http.post(url, content=body, headers=headers)
            assert answer.status_code == 503 and int(answer.headers["retry-after"]) > 0
            flaky.down = False
            assert (await http.post(url, content=body, headers=headers)).status_code == 200  # not taken as seen
        await recorder.wait_for(key, lambda events: count(events, OrderReceived) >= 1)
        assert count(recorder.events(key), OrderReceived) == 1
    finally:
        await redis.aclose()
