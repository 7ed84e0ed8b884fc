"""App Instance Removed (connectors/wix/signature.py): read as `Uninstalled`, bound to its site and aged like
every delivery, and the store it names disconnected by the connector's webhook endpoint with its credentials gone
from PostgreSQL: the removal comes from the sandbox's uninstall control, delivered over HTTP to the app's one URL.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from psycopg import AsyncConnection
from redis.asyncio import Redis

from connectors.errors import InvalidSignatureError
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.platform import Uninstalled
from connectors.stores import Sealer, StoreNotConnected, new_key
from connectors.stores.postgres import PostgresStoreRegistry
from connectors.webhooks import make_app
from connectors.wix import ADAPTER
from devstack.embedded import EmbeddedPostgres
from plumbing.database import open_pool
from sandboxes.base import SandboxState
from sandboxes.wix import SANDBOX
from schemas import StoreDisconnected
from tests.connectors.stores.wix import STORE, UNIT
from tests.connectors.webhook_app import Recorded
from tests.connectors.wix_install import SITE_A, WIX, installing
from tests.connectors.wix_tokens import INSTANCE, OTHER_INSTANCE, bare_token, token
from tests.support import InProcessServer

SITE_A_ID, INSTANCE_A = SITE_A.credentials["site_id"], SITE_A.credentials["instance_id"]


def removal_claims(instance: str = INSTANCE) -> dict:
    envelope = {"eventType": "AppRemoved", "instanceId": instance, "data": json.dumps({"appId": "app-1"})}
    return {"data": json.dumps(envelope)}


def test_app_instance_removed_of_the_sandbox_reads_as_uninstalled() -> None:
    store = UNIT.model_copy(update={"credentials": STORE["credentials"], "webhook_secret": STORE["webhook_secret"]})
    headers, body = SANDBOX.app_event(SandboxState(store=store), "AppRemoved", {"appId": "app-1"})
    note = ADAPTER.read_webhook(store, httpx.Headers(headers), body)
    assert note == Uninstalled("the app was removed from the Wix site (App Instance Removed)")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda: token(removal_claims(OTHER_INSTANCE)), id="another site's removal"),
        pytest.param(lambda: token({**removal_claims(), "iat": int(time.time()) - 3600}), id="an hour old"),
        pytest.param(lambda: bare_token(removal_claims()), id="no iat"),
    ],
)
def test_a_removal_of_another_site_or_replayed_late_disconnects_nothing(body) -> None:
    """A removal is the most damaging delivery there is: it is bound to its site and aged like an order's."""
    with pytest.raises(InvalidSignatureError):
        ADAPTER.read_webhook(UNIT, httpx.Headers({}), body())


@pytest.fixture
async def registry(postgres: EmbeddedPostgres) -> AsyncIterator[PostgresStoreRegistry]:
    pool = open_pool(postgres.url)
    await pool.open(wait=True)
    store = PostgresStoreRegistry(pool, Sealer([new_key()]))
    await store.migrate()
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM connectors.stores WHERE platform = 'wix'")
    try:
        yield store
    finally:
        await pool.close()


@pytest.mark.integration
async def test_app_instance_removed_disconnects_the_store_and_its_credentials_leave_postgres(
    registry: PostgresStoreRegistry, postgres: EmbeddedPostgres
) -> None:
    server = InProcessServer()
    try:
        async with installing(registry) as wix:
            assert (await wix.install("ada@example.com", INSTANCE_A)).status_code == 200
            store = await wix.store(SITE_A_ID)
            token_value = store.credentials["access_token"]
            recorded = Recorded()
            intake = Intake(ADAPTER, cast(AIOKafkaProducer, recorded), cast(Redis, None))
            connector = make_app(
                ADAPTER,
                {store.store_id: store},
                intake,
                cast(ThinFetcher, recorded),
                disconnect=wix.lifecycle.disconnect,
            )
            await server.start(connector)
            await wix.browser.post(f"{WIX}/_sandbox/webhooks", json={"url": f"{server.url}/webhooks/wix"})
            removed = await wix.browser.post(f"{WIX}/_sandbox/sites/{INSTANCE_A}/uninstall")
            assert removed.json()["statuses"] == [200]
            reason = "the app was removed from the Wix site (App Instance Removed)"

            record = await registry.get("wix", store.store_id)
            assert record is not None and record.status == "disconnected" and record.disconnect_reason == reason
            with pytest.raises(StoreNotConnected):
                await registry.credentials("wix", store.store_id)
            gone = [e for e in wix.events if isinstance(e, StoreDisconnected)]
            assert [(e.store_id, e.reason) for e in gone] == [(store.store_id, reason)]
            assert recorded.sent == [] and recorded.queued == []  # no order published or fetched
    finally:
        await server.stop()
    async with await AsyncConnection.connect(postgres.url) as conn:
        rows = await (
            await conn.execute(
                "SELECT credentials, row_to_json(s)::text FROM connectors.stores s WHERE store_id = %s",
                (store.store_id,),
            )
        ).fetchall()
    assert len(rows) == 1 and rows[0][0] is None
    assert token_value not in rows[0][1] and INSTANCE_A not in rows[0][1]
