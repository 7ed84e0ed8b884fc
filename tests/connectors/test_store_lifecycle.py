"""Connecting and disconnecting a store: the registry is written, the event follows, and no secret is in it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from connectors.stores import Sealer, new_key
from connectors.stores.details import StoreDetailsError, config_of, connection_of
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.memory import MemoryStoreRegistry
from plumbing.config import StoreConfig
from schemas import Event, StoreConnected, StoreDisconnected, StoreUpdated, encode

SECRET = "cs_live_7f3a9c0e1b2d"
WEBHOOK_SECRET = "whs_4e8b1a6c2f"


class Published:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


def lifecycle() -> tuple[StoreLifecycle, MemoryStoreRegistry, Published]:
    registry, published = MemoryStoreRegistry(Sealer([new_key()])), Published()
    return StoreLifecycle(registry, published), registry, published


def yaml_store(**extra: object) -> StoreConfig:
    return StoreConfig.model_validate(
        {
            "platform": "woocommerce",
            "store_id": "yaml-woo",
            "merchant_email": "yaml@example.com",
            "base_url": "https://yaml.example.com",
            "credentials": {"consumer_key": "ck_1", "consumer_secret": SECRET},
            "webhook_secret": WEBHOOK_SECRET,
            **extra,
        }
    )


async def test_connect_writes_the_registry_then_announces_the_store_without_its_credentials() -> None:
    stores, registry, published = lifecycle()
    credentials = {"consumer_key": "ck_1", "consumer_secret": SECRET}
    await stores.connect("woocommerce", "new", "m@example.com", credentials, {"base_url": "https://n.example"})
    assert (await registry.credentials("woocommerce", "new")).values == credentials
    [event] = published.events
    assert isinstance(event, StoreConnected)
    assert (event.order_key, event.merchant_email) == ("woocommerce:new", "m@example.com")
    assert SECRET.encode() not in encode(event)


async def test_connecting_a_connected_store_again_is_an_update() -> None:
    stores, _, published = lifecycle()
    await stores.connect("etsy", "1", "m@example.com", {"refresh_token": "r"})
    await stores.connect("etsy", "1", "n@example.com", {"refresh_token": "r2"})
    assert [type(e) for e in published.events] == [StoreConnected, StoreUpdated]


async def test_disconnect_deletes_the_credentials_and_says_why() -> None:
    stores, registry, published = lifecycle()
    await stores.connect("etsy", "1", "m@example.com", {"refresh_token": SECRET})
    await stores.disconnect("etsy", "1", "the merchant asked")
    assert registry.sealed == {}
    event = published.events[-1]
    assert isinstance(event, StoreDisconnected) and event.reason == "the merchant asked"
    assert event.merchant_email == "m@example.com" and event.disconnected_at is not None  # who to tell, and of which


async def test_announcing_a_disconnection_again_names_the_same_moment_and_a_new_one_another() -> None:
    stores, _, published = lifecycle()
    await stores.connect("etsy", "1", "m@example.com", {"refresh_token": SECRET})
    await stores.disconnect("etsy", "1", "uninstalled")
    await stores.disconnect("etsy", "1", "uninstalled, delivered twice")
    first, again = published.events[-2:]
    assert isinstance(first, StoreDisconnected) and isinstance(again, StoreDisconnected)
    assert again.disconnected_at == first.disconnected_at and again.reason == "uninstalled"
    await stores.connect("etsy", "1", "m@example.com", {"refresh_token": SECRET})
    await stores.disconnect("etsy", "1", "revoked")
    later = published.events[-1]
    assert isinstance(later, StoreDisconnected) and later.disconnected_at != first.disconnected_at


async def test_disconnecting_an_unknown_store_publishes_nothing() -> None:
    stores, _, published = lifecycle()
    assert await stores.disconnect("etsy", "nobody", "why") is None
    assert published.events == []


async def test_a_bad_platform_or_address_writes_nothing() -> None:
    stores, registry, published = lifecycle()
    with pytest.raises(ValidationError):
        await stores.connect("shopify", "1", "m@example.com", {"k": "v"})
    with pytest.raises(ValidationError):
        await stores.connect("etsy", "1", "two@a.com, three@b.com", {"k": "v"})
    assert await registry.stores(connected_only=False) == [] and published.events == []


async def test_yaml_stores_are_seeded_once_and_again_only_when_the_yaml_changes() -> None:
    stores, registry, published = lifecycle()
    assert await stores.seed([yaml_store()]) == 1
    assert await stores.seed([yaml_store()]) == 0  # the next start: nothing written, nothing announced
    assert len(published.events) == 1
    assert await stores.seed([yaml_store(base_url="https://moved.example.com")]) == 1  # the YAML wins
    kept = await registry.get("woocommerce", "yaml-woo")
    assert kept is not None and kept.details["base_url"] == "https://moved.example.com"


async def test_a_registry_store_runs_as_the_yaml_store_it_was_seeded_from() -> None:
    original = yaml_store(poll_interval="5s", start_from="2000-01-01T00:00:00Z")
    credentials, details = connection_of(original)
    assert SECRET not in str(details) and WEBHOOK_SECRET not in str(details)
    _, registry, _ = lifecycle()
    kept = await registry.connect("woocommerce", "yaml-woo", "yaml@example.com", credentials, details)
    run = config_of(kept, (await registry.credentials("woocommerce", "yaml-woo")).values)
    assert run.credentials == original.credentials and run.webhook_secret == WEBHOOK_SECRET
    assert (run.base_url, run.poll_interval, run.start_from) == (
        original.base_url,
        original.poll_interval,
        original.start_from,
    )


async def test_a_store_that_cannot_run_is_named_without_its_secrets() -> None:
    _, registry, _ = lifecycle()
    kept = await registry.connect("woocommerce", "w", "m@example.com", {"consumer_secret": SECRET}, {"base_url": "x"})
    with pytest.raises(StoreDetailsError) as error:
        config_of(kept, {"consumer_secret": SECRET, "webhook_secret": " " * 3})
    assert "woocommerce:w" in str(error.value) and SECRET not in str(error.value)
