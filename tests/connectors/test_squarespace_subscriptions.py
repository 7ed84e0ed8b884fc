"""`connectors.squarespace.subscriptions.ensure` against the sandbox: three subscriptions made and their
secrets kept, one the platform deleted silently made again (and deliveries resume), a subscription whose
secret was lost replaced, an API key (which the subscriptions API refuses) reported, not hidden, and the
connector's schedule keeping the secrets it makes."""

from __future__ import annotations

import asyncio

from connectors.client import PlatformClient
from connectors.hook_health import NO_REGISTRY, HookKeeper
from connectors.squarespace import client
from connectors.squarespace.subscriptions import WANTED, ensure
from connectors.stores.lifecycle import StoreLifecycle
from connectors.subscriptions import registry_writer
from schemas import StoreUpdated
from tests.connectors.squarespace_stack import PLATFORM, WEBSITE_ID, hooked
from tests.connectors.test_hook_health import MemoryTurns


async def test_ensure_subscribes_each_topic_and_keeps_each_secret() -> None:
    async with hooked() as hooks:
        health = await hooks.ensure()
        assert health.created == WANTED and health.healthy and health.repaired
        listed = (await hooks.sandbox())["subscriptions"]
        assert sorted(t for s in listed for t in s["topics"]) == sorted(WANTED)
        assert {s["endpointUrl"] for s in listed} == {hooks.callback_url}
        credentials = (await hooks.registry.credentials("squarespace", WEBSITE_ID)).values
        assert {f"webhook_secret:{t}" for t in WANTED} <= set(credentials)
        assert {credentials[f"webhook_subscription:{t}"] for t in WANTED} == {s["id"] for s in listed}
        assert "access_token" in credentials and "refresh_token" in credentials  # merged, not replaced
        again = await hooks.ensure()
        assert again.found_active == WANTED and not again.repaired and again.healthy
        assert len((await hooks.sandbox())["subscriptions"]) == 3


async def test_a_subscription_the_platform_deleted_is_made_again_and_deliveries_resume() -> None:
    async with hooked() as hooks:
        await hooks.ensure()
        first = await hooks.place_order()
        assert [s["status"] for s in await hooks.delivered("order.create", 1)] == [200]
        deleted = (await hooks.site.http.post("/_sandbox/subscriptions/delete", json={"topic": "order.create"})).json()
        assert len(deleted["deleted"]) == 1
        await hooks.place_order()  # nobody is told: the poll would find it, a poll interval late
        await asyncio.sleep(0.2)
        assert len([s for s in (await hooks.sandbox())["sent"] if s["topic"] == "order.create"]) == 1

        health = await hooks.ensure()
        assert health.revived == ("order.create",) and health.repaired and health.healthy
        assert set(health.found_active) == {"order.update", "extension.uninstall"}
        third = await hooks.place_order()
        sent = await hooks.delivered("order.create", 2)
        assert [s["status"] for s in sent] == [200, 200]  # verified with the new subscription's secret
        assert [order for _, order in hooks.recorded.queued] == [first, third]


async def test_a_subscription_whose_secret_was_lost_is_replaced() -> None:
    async def lost(changes) -> None:  # the registry write failed after the subscriptions were made
        raise ConnectionError("registry away")

    async with hooked() as hooks:
        failed = await hooks.ensure(save=lost)
        assert not failed.healthy and "not saved" in failed.problems[0]
        orphans = {s["id"] for s in (await hooks.sandbox())["subscriptions"]}
        health = await hooks.ensure()
        assert health.created == WANTED and health.healthy
        now = {s["id"] for s in (await hooks.sandbox())["subscriptions"]}
        assert len(now) == 3 and not now & orphans  # the unverifiable ones deleted, not left to fail


async def test_a_store_with_an_api_key_only_is_reported_unhealthy() -> None:
    async with hooked() as hooks:
        store = (await hooks.store()).model_copy(update={"credentials": {"api_key": "sq-configured-api-key"}})
        api = PlatformClient("squarespace", PLATFORM, headers=client.headers(store), transport=hooks.site.transport)

        async def never(changes) -> None:
            raise AssertionError("nothing to save")

        health = await ensure(api, store, hooks.callback_url, save=never)
        await api.aclose()
        assert not health.healthy and "401" in health.problems[0]


async def test_the_schedule_checks_only_with_a_registry_for_the_secrets_and_announces_what_it_kept() -> None:
    """The connector's schedule (`HookKeeper`) passes `save`: the secrets of what it makes reach the registry and
    every copy is told (`StoreUpdated`); with no registry it makes nothing nobody could verify."""
    async with hooked() as hooks:
        announced: list = []

        async def announce(events) -> None:
            announced.extend(events)

        lifecycle = StoreLifecycle(hooks.registry, announce)
        base = hooks.callback_url.removesuffix(f"/webhooks/squarespace/{WEBSITE_ID}")
        keeper = HookKeeper("squarespace", ensure, base, MemoryTurns())
        assert keeper.callback_url(await hooks.store()) == hooks.callback_url
        store = await hooks.store()
        api = PlatformClient("squarespace", PLATFORM, headers=client.headers(store), transport=hooks.site.transport)
        try:
            unsaved = await keeper.check(store, api)
            assert unsaved.problems == (NO_REGISTRY,) and not keeper.healthy(WEBSITE_ID)
            assert (await hooks.sandbox())["subscriptions"] == []

            keeper.save_for = lambda s: registry_writer(
                hooks.registry, "squarespace", s.store_id, then=lambda: lifecycle.updated("squarespace", s.store_id)
            )
            health = await keeper.check(store, api)
        finally:
            await api.aclose()
        assert health.created == WANTED and health.healthy
        credentials = (await hooks.registry.credentials("squarespace", WEBSITE_ID)).values
        assert {f"webhook_secret:{t}" for t in WANTED} <= set(credentials)
        assert [(type(e), e.store_id) for e in announced] == [(StoreUpdated, WEBSITE_ID)]
        await hooks.follow()  # what every copy does on StoreUpdated
        await hooks.place_order()
        assert [s["status"] for s in await hooks.delivered("order.create", 1)] == [200]
