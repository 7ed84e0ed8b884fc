"""The seed's test, steps 1 and 3: publish a draft to a sandbox store, place a paid test order of it; and the same
through `personalize publish-product` / `personalize test-order` as an operator runs them.

Each test serves a platform's sandbox on a loopback port; the catalog lives in the session's Redis.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from redis.asyncio import Redis

from connectors.main import client_for
from connectors.publishing import ProductDraft, publish_product
from connectors.registry import adapter_for
from core.directory import Directory
from personalize.testorder import CAN_MARK_TEST, TestOrderError, place_test_order
from plumbing.config import ProductMatch, StoreConfig, load_config
from sandboxes.base import make_sandbox_app
from sandboxes.main import sandbox_for
from tests.connectors.stacks import STORES, built_platforms
from tests.support import InProcessServer, unique_id

pytestmark = pytest.mark.integration  # starts servers or service processes of its own

PLATFORMS = built_platforms()
OPTIONS = {"etsy": {"taxonomy_id": "1633", "shipping_profile_id": "20166011"}}
CURRENCY = {"squarespace": "USD"}


def write_config(path: Path, platform: str, base_url: str) -> StoreConfig:
    store = {
        "platform": platform,
        "store_id": f"test-{unique_id()}",
        "merchant_email": "m@example.com",
        "base_url": base_url,
        "credentials": {**STORES[platform]["credentials"], **OPTIONS.get(platform, {})},
    }
    path.write_text(
        yaml.safe_dump(
            {
                "templates": {
                    "name-mug": {"title": "Name mug", "fields": [{"name": "name", "type": "text", "max_length": 20}]}
                },
                "stores": [store],
            }
        )
    )
    return load_config(path).stores[0]


@asynccontextmanager
async def sandbox_store(tmp_path: Path, platform: str) -> AsyncIterator[tuple[StoreConfig, InProcessServer, Path]]:
    server = InProcessServer()
    config_path = tmp_path / "config.yaml"
    store = write_config(config_path, platform, server.url)
    await server.start(make_sandbox_app(sandbox_for(platform), store))
    try:
        yield store, server, config_path
    finally:
        await server.stop()


async def personalize(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "personalize.cli",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_published_draft_gets_a_paid_test_order_marked_as_the_platform_can(tmp_path, redis, platform):
    async with sandbox_store(tmp_path, platform) as (store, _, config_path):
        directory = Directory(redis, load_config(config_path))
        published = await publish_product(
            store,
            directory,
            ProductDraft(
                template="name-mug", title="Name mug", price="24.50", currency=CURRENCY.get(platform), draft=True
            ),
        )

        placed = await place_test_order(store, directory)

        assert placed.product == published.catalog_entry
        assert placed.is_test == (platform in CAN_MARK_TEST)  # Etsy and Wix have no test orders
        api = client_for(adapter_for(platform), store)
        try:  # read as the connector reads it: paid, and its line is the catalog's personalizable product
            order = (
                adapter_for(platform)
                .map_order(store, await adapter_for(platform).fetch_order(api, store, placed.order_id))
                .order
            )
        finally:
            await api.aclose()
        assert order.order_key == placed.order_key and order.payment_status == "paid"
        assert order.customer.email == "m@example.com"
        assert [published.catalog_entry.matches(line) for line in order.line_items] == [True]


async def test_a_product_outside_the_catalog_or_an_empty_catalog_is_refused(tmp_path, redis):
    async with sandbox_store(tmp_path, "woocommerce") as (store, server, config_path):
        directory = Directory(redis, load_config(config_path))
        with pytest.raises(TestOrderError, match="publish-product first"):
            await place_test_order(store, directory)
        with pytest.raises(TestOrderError, match="not in the catalog"):
            await place_test_order(store, directory, product_id="777")
        assert server.app.state.sandbox.orders.keys() == set(server.app.state.sandbox.seeded)


async def test_a_store_that_is_not_a_sandbox_gets_no_order(tmp_path, redis):
    shop = InProcessServer()  # answers 404 everywhere, as a real store's API does for /_sandbox/orders
    await shop.start(FastAPI())
    try:
        store = write_config(tmp_path / "config.yaml", "bigcommerce", shop.url)
        directory = Directory(redis, load_config(tmp_path / "config.yaml"))
        await directory.put_product("bigcommerce", store.store_id, ProductMatch(product_id="111", template="name-mug"))
        with pytest.raises(TestOrderError, match="not a sandbox"):
            await place_test_order(store, directory)
    finally:
        await shop.stop()


@pytest.mark.parametrize("platform", ["woocommerce", "squarespace"])
async def test_the_commands_publish_then_place_a_test_order(tmp_path, redis_url, platform):
    async with sandbox_store(tmp_path, platform) as (store, server, config_path):
        env = {"PERSONALIZE_CONFIG": str(config_path), "PERSONALIZE_REDIS_URL": redis_url}
        currency = ["--currency", "USD"] if platform == "squarespace" else []
        code, out, err = await personalize(
            "publish-product",
            "--store",
            store.key,
            "--template",
            "name-mug",
            "--title",
            "Name mug",
            "--price",
            "24.50",
            "--draft",
            *currency,
            env=env,
        )
        assert code == 0, err
        (product,) = server.app.state.sandbox.products.values()
        product_id = str(product["id"])
        assert f"published {platform} product {product_id} on {store.key} (draft, hidden from buyers)" in out
        assert f'catalog entry: {{"product_id": "{product_id}", "template": "name-mug"}}' in out

        code, out, err = await personalize("test-order", "--store", store.key, "--product", product_id, env=env)
        assert code == 0, err
        assert "placed test order" in out and "marked test: yes" in out and "pending_approval" in out
        assert len(server.app.state.sandbox.orders) == len(server.app.state.sandbox.seeded) + 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--store", "woocommerce:nowhere", "--template", "name-mug"], "no store 'woocommerce:nowhere'"),
        (["--template", "no-such-template"], "unknown template 'no-such-template'"),
        (["--template", "name-mug", "--price", "12,50"], "--price"),
    ],
)
async def test_publish_product_stops_with_exit_2_and_says_why(tmp_path, redis_url, args, says):
    async with sandbox_store(tmp_path, "woocommerce") as (store, server, config_path):
        base = {"--store": store.key, "--title": "Name mug", "--price": "24.50"}
        given = dict(zip(args[::2], args[1::2], strict=True))
        argv = [part for key, value in {**base, **given}.items() for part in (key, value)]
        code, out, err = await personalize(
            "publish-product", *argv, env={"PERSONALIZE_CONFIG": str(config_path), "PERSONALIZE_REDIS_URL": redis_url}
        )
        assert code == 2 and says in err and out == ""
        assert server.app.state.sandbox.products == {}


async def test_publish_product_reports_the_platform_s_refusal_with_exit_2(tmp_path, redis_url):
    async with sandbox_store(tmp_path, "etsy") as (store, _, config_path):
        raw = yaml.safe_load(config_path.read_text())
        del raw["stores"][0]["credentials"]["taxonomy_id"]  # Etsy requires one
        config_path.write_text(yaml.safe_dump(raw))
        env = {"PERSONALIZE_CONFIG": str(config_path), "PERSONALIZE_REDIS_URL": redis_url}
        code, _, err = await personalize(
            "publish-product",
            "--store",
            store.key,
            "--template",
            "name-mug",
            "--title",
            "Name mug",
            "--price",
            "24.50",
            env=env,
        )
        assert code == 2 and "etsy refused the product, nothing was registered" in err and "taxonomy_id" in err
        redis = Redis.from_url(redis_url)
        try:
            assert (await Directory(redis, load_config(config_path)).store("etsy", store.store_id)).products == []
        finally:
            await redis.aclose()


async def test_test_order_for_a_real_store_prints_the_platform_s_steps(tmp_path, redis_url):
    config_path = tmp_path / "config.yaml"
    store = write_config(config_path, "bigcommerce", "http://127.0.0.1:9")  # nothing listens: not a sandbox
    code, out, err = await personalize(
        "test-order",
        "--store",
        store.key,
        env={"PERSONALIZE_CONFIG": str(config_path), "PERSONALIZE_REDIS_URL": redis_url},
    )
    assert code == 0, err
    assert "is a real bigcommerce store" in out and "Orders › Add" in out and "personalize_test" in out
