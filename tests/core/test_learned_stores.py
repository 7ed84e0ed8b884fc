"""Stores core learns from the `stores` topic: accepted like YAML stores, marked when disconnected."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.decide import Policy, apply
from core.directory import Directory, UnknownStore
from plumbing.config import ProductMatch, load_config
from schemas import PersonalizationRequested, StoreConnected, StoreDisconnected, StoreUpdated, store_key
from tests.builders import CONFIG_PATH, mug, order
from tests.builders import MANUAL as YAML_STORE

NEW = ("woocommerce", "connected-later")


def connected(email: str = "new@example.com", kind: type = StoreConnected) -> StoreConnected:
    return kind(order_key=store_key(*NEW), platform=NEW[0], store_id=NEW[1], merchant_email=email)


@pytest.fixture
async def directory(redis):
    await redis.flushdb()
    directory = Directory(redis, load_config(CONFIG_PATH))
    await directory.seed()
    return directory


async def test_a_store_unknown_to_the_yaml_is_refused_until_it_is_learned(directory):
    assert (await directory.config()).store(*NEW) is None
    with pytest.raises(UnknownStore):
        await directory.store(*NEW)
    await directory.learn(connected())
    store = (await directory.config()).store(*NEW)
    assert store is not None and store.merchant_email == "new@example.com" and store.approval == "manual"
    assert (await directory.store(*NEW)).settings.merchant_email == "new@example.com"


async def test_a_learned_store_takes_a_catalog_and_core_requests_personalization_of_its_orders(directory, redis):
    await directory.learn(connected())
    await directory.put_product(*NEW, ProductMatch(product_id="93", template="name-mug"))
    other_copy = Directory(redis, load_config(CONFIG_PATH))  # another core copy, or the merchant API
    event = order(NEW, [mug()])
    decision = apply(None, event, Policy(await other_copy.config(), timedelta(0)), event.occurred_at, "test")
    assert not decision.rejected
    [request] = [e for e in decision.outgoing if isinstance(e, PersonalizationRequested)]
    assert request.merchant_email == "new@example.com"


async def test_an_update_changes_the_email_only_until_the_merchant_owns_the_settings(directory):
    await directory.learn(connected())
    await directory.learn(connected("second@example.com", StoreUpdated))
    assert (await directory.store(*NEW)).settings.merchant_email == "second@example.com"
    await directory.update_settings(*NEW, lambda s: s.model_copy(update={"approval": "automatic"}))
    await directory.learn(connected("third@example.com", StoreUpdated))
    assert (await directory.store(*NEW)).settings.merchant_email == "second@example.com"


async def test_a_disconnected_store_is_marked_and_kept_for_its_orders_in_flight(directory):
    await directory.learn(connected())
    version = await directory.version()
    await directory.learn(StoreDisconnected(order_key=store_key(*NEW), platform=NEW[0], store_id=NEW[1], reason="r"))
    [kept] = await directory.learned_stores()
    assert (kept.status, kept.reason) == ("disconnected", "r")
    assert await directory.version() > version  # every reader re-reads
    assert (await directory.config()).store(*NEW) is not None


async def test_a_disconnect_of_a_store_never_learned_leaves_nothing(directory):
    await directory.learn(StoreDisconnected(order_key="etsy:ghost", platform="etsy", store_id="ghost", reason="r"))
    assert await directory.learned_stores() == []


async def test_a_yaml_store_connected_again_keeps_its_yaml_record(directory):
    platform, store_id = YAML_STORE
    await directory.learn(
        StoreConnected(
            order_key=store_key(platform, store_id),
            platform=platform,
            store_id=store_id,
            merchant_email="x@example.com",
        )
    )
    config = await directory.config()
    assert [s.key for s in config.stores].count(store_key(platform, store_id)) == 1
    assert config.store(platform, store_id).merchant_email == "manual@example.com"
