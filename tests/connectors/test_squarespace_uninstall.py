"""A merchant uninstalls the app on Squarespace: its `extension.uninstall` notification, verified, disconnects
the store, and its tokens and subscription secrets are gone from PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from psycopg import AsyncConnection

from connectors.connect.apps import PlatformApp
from connectors.errors import GrantRevokedError
from connectors.squarespace.tokens import refresh
from connectors.stores import Sealer, StoreNotConnected, new_key
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.postgres import PostgresStoreRegistry
from devstack.embedded import EmbeddedPostgres
from plumbing.database import open_pool
from schemas import Event, StoreDisconnected
from tests.connectors.squarespace_stack import WEBSITE_ID, hooked

pytestmark = pytest.mark.integration


@pytest.fixture
async def registry(postgres: EmbeddedPostgres) -> AsyncIterator[PostgresStoreRegistry]:
    pool = open_pool(postgres.url)
    await pool.open(wait=True)
    registry = PostgresStoreRegistry(pool, Sealer([new_key()]))
    await registry.migrate()
    async with pool.connection() as conn:
        await conn.execute("TRUNCATE connectors.stores")
    try:
        yield registry
    finally:
        await pool.close()


async def row_of(url: str) -> str:
    async with await AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(
            "SELECT row_to_json(s)::text FROM connectors.stores s WHERE platform = 'squarespace' AND store_id = %s",
            (WEBSITE_ID,),
        )
        row = await cursor.fetchone()
        assert row is not None
        return row[0]


async def test_extension_uninstall_disconnects_the_store_and_deletes_its_credentials(
    registry: PostgresStoreRegistry, postgres: EmbeddedPostgres
) -> None:
    published: list[Event] = []

    async def publish(events) -> None:
        published.extend(events)

    lifecycle = StoreLifecycle(registry, publish)
    async with hooked(registry, disconnect=lifecycle.disconnect) as hooks:
        assert (await hooks.ensure()).healthy
        kept = (await registry.credentials("squarespace", WEBSITE_ID)).values
        assert '"credentials": null' not in await row_of(postgres.url)

        uninstalled = (await hooks.site.http.post("/_sandbox/uninstall")).json()

        assert uninstalled["statuses"] == [200]
        store = await registry.get("squarespace", WEBSITE_ID)
        assert store is not None and store.status == "disconnected"
        assert "extension.uninstall" in (store.disconnect_reason or "")
        with pytest.raises(StoreNotConnected):
            await registry.credentials("squarespace", WEBSITE_ID)
        row = await row_of(postgres.url)
        assert '"credentials":null' in row.replace(" ", "")
        for name in ("access_token", "refresh_token", "webhook_secret:order.create"):
            assert kept[name] not in row
        assert [type(e) for e in published] == [StoreDisconnected]
        with pytest.raises(GrantRevokedError):  # and Squarespace has revoked the grant
            app: PlatformApp = hooks.site.app
            await refresh(hooks.site.http, app, kept)


async def test_an_uninstall_signed_with_no_secret_of_the_store_disconnects_nothing(
    registry: PostgresStoreRegistry,
) -> None:
    async def never(platform: str, store_id: str, reason: str) -> None:
        raise AssertionError("disconnected on a forged notification")

    async with hooked(registry, disconnect=never) as hooks:
        await hooks.ensure()
        body = (
            b'{"id":"1","websiteId":"' + WEBSITE_ID.encode() + b'","subscriptionId":"s","topic":"extension.uninstall",'
            b'"createdOn":"2026-01-01T00:00:00Z","data":{"clientId":"c"}}'
        )
        async with httpx.AsyncClient() as http:  # to our endpoint, as anyone on the internet can
            forged = await http.post(
                hooks.callback_url,
                content=body,
                headers={"Squarespace-Signature": "00" * 32, "Content-Type": "application/json"},
            )
        assert forged.status_code == 401
        store = await registry.get("squarespace", WEBSITE_ID)
        assert store is not None and store.status == "connected"


async def test_an_uninstall_while_the_registry_is_away_answers_503_so_squarespace_retries_it(
    registry: PostgresStoreRegistry,
) -> None:
    async def away(platform: str, store_id: str, reason: str) -> None:
        raise psycopg.OperationalError("connection to server failed")  # as the pool says with PostgreSQL down

    async with hooked(registry, disconnect=away) as hooks:
        assert (await hooks.ensure()).healthy
        uninstalled = (await hooks.site.http.post("/_sandbox/uninstall")).json()
        assert uninstalled["statuses"] == [503]  # not a 500: the delivery is retried, the store still connected
        store = await registry.get("squarespace", WEBSITE_ID)
        assert store is not None and store.status == "connected"
