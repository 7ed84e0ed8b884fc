"""The store registry's promises, on PostgreSQL and on its twin in memory: sealed credentials, one refresh
write per version, disconnect deletes, key rotation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from psycopg import AsyncConnection

from connectors.stores import Sealer, SealingError, StoreNotConnected, StoreRegistry, new_key
from connectors.stores.memory import MemoryStoreRegistry
from connectors.stores.postgres import PostgresStoreRegistry
from devstack.embedded import EmbeddedPostgres
from plumbing.database import open_pool

SECRET = "etsy-refresh-token-8c1f4e0b2a"
KEY_A, KEY_B = new_key(), new_key()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
async def registry(request: pytest.FixtureRequest) -> AsyncIterator[StoreRegistry]:
    sealer = Sealer([KEY_A])
    if request.param == "memory":
        yield MemoryStoreRegistry(sealer)
        return
    postgres: EmbeddedPostgres = request.getfixturevalue("postgres")
    pool = open_pool(postgres.url)
    await pool.open(wait=True)
    store = PostgresStoreRegistry(pool, sealer)
    await store.migrate()
    async with pool.connection() as conn:
        await conn.execute("TRUNCATE connectors.stores")
    try:
        yield store
    finally:
        await pool.close()


async def raw_rows(registry: StoreRegistry, postgres_url: str | None) -> list[Any]:
    """Everything the registry holds, as the database (or the twin) holds it."""
    if isinstance(registry, MemoryStoreRegistry):
        return list(registry.sealed.values())
    assert postgres_url
    async with await AsyncConnection.connect(postgres_url) as conn:
        return await (await conn.execute("SELECT row_to_json(s)::text FROM connectors.stores s")).fetchall()


def url_of(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("postgres").url if "postgres" in request.node.callspec.id else None


async def test_credentials_are_kept_sealed_and_opened_only_on_request(
    registry: StoreRegistry, request: pytest.FixtureRequest
) -> None:
    store = await registry.connect("etsy", "shop-1", "m@example.com", {"refresh_token": SECRET})
    assert store.status == "connected" and store.credentials_version == 1
    assert SECRET not in repr(store)
    rows = await raw_rows(registry, url_of(request))
    assert rows and all(SECRET not in str(row) for row in rows)
    credentials = await registry.credentials("etsy", "shop-1")
    assert credentials.values == {"refresh_token": SECRET}
    assert SECRET not in repr(credentials)


async def test_two_copies_refreshing_one_version_write_once(registry: StoreRegistry) -> None:
    await registry.connect("etsy", "shop-1", "m@example.com", {"refresh_token": "r1"})
    read = await registry.credentials("etsy", "shop-1")
    results = await asyncio.gather(
        registry.replace_credentials("etsy", "shop-1", {"refresh_token": "r2-a"}, expected_version=read.version),
        registry.replace_credentials("etsy", "shop-1", {"refresh_token": "r2-b"}, expected_version=read.version),
    )
    assert sorted(results) == [False, True]
    now = await registry.credentials("etsy", "shop-1")
    assert now.version == read.version + 1
    assert now.values["refresh_token"] == ("r2-a" if results[0] else "r2-b")


async def test_disconnect_deletes_credentials_and_keeps_the_first_reason(
    registry: StoreRegistry, request: pytest.FixtureRequest
) -> None:
    await registry.connect("wix", "site-1", "m@example.com", {"refresh_token": SECRET})
    gone = await registry.disconnect("wix", "site-1", "app instance removed")
    again = await registry.disconnect("wix", "site-1", "second call")
    assert gone is not None and again is not None
    assert gone.status == again.status == "disconnected"
    assert again.disconnect_reason == "app instance removed"
    with pytest.raises(StoreNotConnected):
        await registry.credentials("wix", "site-1")
    assert not await registry.replace_credentials(
        "wix", "site-1", {"x": "y"}, expected_version=gone.credentials_version
    )
    assert all(SECRET not in str(row) for row in await raw_rows(registry, url_of(request)))
    assert await registry.stores("wix") == []
    assert [s.store_id for s in await registry.stores("wix", connected_only=False)] == ["site-1"]
    assert await registry.disconnect("wix", "unknown", "x") is None


async def test_reconnecting_brings_a_store_back_with_new_credentials(registry: StoreRegistry) -> None:
    await registry.connect("bigcommerce", "abc", "old@example.com", {"access_token": "t1"})
    await registry.disconnect("bigcommerce", "abc", "uninstalled")
    back = await registry.connect("bigcommerce", "abc", "new@example.com", {"access_token": "t2"})
    assert back.status == "connected" and back.disconnect_reason is None and back.merchant_email == "new@example.com"
    assert (await registry.credentials("bigcommerce", "abc")).values == {"access_token": "t2"}
    assert [s.key for s in await registry.stores()] == ["bigcommerce:abc"]


async def test_a_rotated_key_opens_old_values_and_reseal_moves_them_to_the_new_key(registry: StoreRegistry) -> None:
    await registry.connect("squarespace", "s1", "m@example.com", {"access_token": SECRET})
    rotated = registry.rekeyed(Sealer([KEY_B, KEY_A]))  # the new key first, the old one still listed
    assert (await rotated.credentials("squarespace", "s1")).values == {"access_token": SECRET}
    assert await rotated.reseal() == 1
    assert (await registry.rekeyed(Sealer([KEY_B])).credentials("squarespace", "s1")).values == {"access_token": SECRET}
    with pytest.raises(SealingError):
        await registry.credentials("squarespace", "s1")  # the old key alone no longer opens it


def test_a_sealed_value_moved_to_another_store_is_refused() -> None:
    sealer = Sealer([KEY_A])
    sealed = sealer.seal("etsy:shop-1", {"access_token": SECRET})
    assert sealer.open("etsy:shop-1", sealed) == {"access_token": SECRET}
    with pytest.raises(SealingError, match="another store"):
        sealer.open("etsy:shop-2", sealed)
    with pytest.raises(SealingError):
        Sealer([KEY_B]).open("etsy:shop-1", sealed)


async def test_details_are_kept_and_replaced_on_reconnect(registry: StoreRegistry) -> None:
    first = await registry.connect("woocommerce", "w", "m@example.com", {"k": "v"}, {"base_url": "https://a.example"})
    assert first.details == {"base_url": "https://a.example"}
    await registry.connect("woocommerce", "w", "m@example.com", {"k": "v"}, {"base_url": "https://b.example"})
    stored = await registry.get("woocommerce", "w")
    assert stored is not None and stored.details == {"base_url": "https://b.example"}
