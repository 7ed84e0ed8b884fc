"""`subscriptions.ensure` against the sandbox's `/v3/hooks`: hooks created, found, and revived after BigCommerce
deactivated them for failed deliveries; deliveries the connector accepts by the store's own header."""

from __future__ import annotations

import httpx

from connectors.bigcommerce import client, signature, subscriptions
from connectors.bigcommerce.connect import HOOK_HEADER
from connectors.client import PlatformClient
from connectors.errors import InvalidSignatureError
from plumbing.config import StoreConfig
from sandboxes.bigcommerce import world
from tests.connectors.test_bigcommerce_connect import STORE_HASH, Running, eventually, install, running_app

WANTED = ["store/order/created", "store/order/updated"]


async def connected(running: Running, browser: httpx.AsyncClient) -> tuple[StoreConfig, PlatformClient]:
    """The store as the flow connected it, and a client with its token (hooks are the token's client's)."""
    assert (await install(browser, running)).headers["location"].endswith("/install/succeeded")
    kept = await running.registry.get("bigcommerce", STORE_HASH)
    assert kept is not None
    credentials = (await running.registry.credentials("bigcommerce", STORE_HASH)).values
    store = StoreConfig.model_validate(
        {
            "platform": "bigcommerce",
            "store_id": STORE_HASH,
            "merchant_email": kept.merchant_email,
            "base_url": kept.details["base_url"],
            "credentials": credentials,
        }
    )
    api = PlatformClient("bigcommerce", kept.details["base_url"], headers=client.headers(store), attempts=1)
    return store, api


async def hooks(running: Running, browser: httpx.AsyncClient) -> list[dict]:
    return (await browser.get(f"{running.sandbox.url}/_sandbox/hooks")).json()["hooks"]


async def test_ensure_finds_the_hooks_the_install_registered_and_creates_missing_ones() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        store, api = await connected(running, browser)
        try:
            health = await subscriptions.ensure(api, store, running.webhook_url)
            assert health.healthy and sorted(health.found_active) == WANTED and not health.repaired
            [created] = [h for h in await hooks(running, browser) if h["scope"] == "store/order/created"]
            deleted = await api.request("DELETE", f"/v3/hooks/{created['id']}")
            assert deleted.status_code == 200
            health = await subscriptions.ensure(api, store, running.webhook_url)
            assert health.created == ("store/order/created",) and health.found_active == ("store/order/updated",)
            assert health.healthy and health.repaired
            assert sorted(h["scope"] for h in await hooks(running, browser)) == WANTED
        finally:
            await api.aclose()


async def test_a_hook_bigcommerce_deactivated_after_failed_deliveries_is_reactivated_in_place() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        store, api = await connected(running, browser)
        try:
            # Our endpoint fails every delivery; BigCommerce's ~48 h of retries take milliseconds here.
            running.hook_status[0] = 503
            await browser.post(f"{running.sandbox.url}/_sandbox/hooks", json={"retry_delays_s": [0.01, 0.01, 0.01]})
            await browser.post(f"{running.sandbox.url}/_sandbox/orders", json={})
            state = world(running.sandbox.app.state.sandbox).hooks
            await eventually(lambda: bool(state.notified), "BigCommerce to deactivate the hook")
            by_scope = {h["scope"]: h for h in await hooks(running, browser)}
            assert by_scope["store/order/created"]["is_active"] is False
            assert by_scope["store/order/updated"]["is_active"] is True  # nothing was sent to it
            attempts = [d for d in state.deliveries if d["hook_id"] == by_scope["store/order/created"]["id"]]
            assert [d["status"] for d in attempts] == [503] * 4  # the first try and the three retries

            health = await subscriptions.ensure(api, store, running.webhook_url)
            assert health.revived == ("store/order/created",) and health.healthy
            after = {h["scope"]: h for h in await hooks(running, browser)}
            assert after["store/order/created"]["is_active"] is True
            assert after["store/order/created"]["id"] == by_scope["store/order/created"]["id"]

            # Delivered again once our endpoint answers: the connector accepts it by the store's own header ...
            running.hook_status[0] = 200
            running.deliveries.clear()
            await browser.post(f"{running.sandbox.url}/_sandbox/orders", json={})
            await eventually(lambda: bool(running.deliveries), "a delivery to the revived hook")
            headers, body = running.deliveries[0]
            signature.verify(store, headers, body)
            # ... and refuses one without it.
            forged = {k: v for k, v in headers.items() if k != HOOK_HEADER.lower()}
            try:
                signature.verify(store, forged, body)
            except InvalidSignatureError:
                pass
            else:
                raise AssertionError("a delivery without the store's header was accepted")
        finally:
            await api.aclose()


async def test_a_hook_whose_header_is_not_the_stores_any_more_gets_the_new_one() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        store, api = await connected(running, browser)
        try:
            renewed = store.model_copy(
                update={"credentials": {**store.credentials, "webhook_header_value": "n" * 43}}
            )  # a reinstall renews the header
            health = await subscriptions.ensure(api, renewed, running.webhook_url)
            assert sorted(health.revived) == WANTED and health.healthy
            assert all(h["headers"] == {HOOK_HEADER: "n" * 43} for h in await hooks(running, browser))
        finally:
            await api.aclose()


async def test_hooks_are_the_clients_own_another_token_neither_sees_nor_changes_them() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        store, api = await connected(running, browser)
        other = PlatformClient(
            "bigcommerce", str(store.base_url), headers={"X-Auth-Token": "yaml-api-account"}, attempts=1
        )
        try:
            listed, _ = await other.request_json("GET", "/v3/hooks")
            assert listed["data"] == []
            [first, *_] = await hooks(running, browser)
            answer = await browser.put(
                f"{store.base_url}/v3/hooks/{first['id']}",
                json={"is_active": False},
                headers={"X-Auth-Token": "yaml-api-account"},
            )
            assert answer.status_code == 404
        finally:
            await other.aclose()
            await api.aclose()


async def test_ensure_reports_a_store_whose_token_is_refused_without_its_secrets() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        store, api = await connected(running, browser)
        await browser.post(f"{running.sandbox.url}/_sandbox/app/uninstall")  # the token dies
        try:
            health = await subscriptions.ensure(api, store, running.webhook_url)
            assert not health.healthy and health.problems == ("listing the hooks failed (answered 401)",)
            assert store.credentials["access_token"] not in repr(health)
        finally:
            await api.aclose()
