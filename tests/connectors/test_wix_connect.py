"""Connecting Wix sites through the sandbox's app (connectors/wix/connect.py): the external install, a token per
instance, the site read from Get App Instance; two sites of one app, each polled for its own orders; the token
renewed when it expires (connectors/wix/tokens.py); and every way the callback can go wrong connecting nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from connectors.client import PlatformClient
from connectors.errors import GrantRevokedError, PlatformError
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.webhooks import StoreRoutes, make_app
from connectors.wix import ADAPTER
from connectors.wix.tokens import refresh
from plumbing.config import StoreConfig
from schemas import OrderReceived, StoreConnected
from tests.connectors.webhook_app import Recorded
from tests.connectors.wix_install import PUBLIC_KEY, SITE_A, WIX, Installing, installing, wix_app
from tests.support import InProcessServer

EMAIL_A, EMAIL_B = "ada@example.com", "bob@example.com"
SITE_A_ID, INSTANCE_A = SITE_A.credentials["site_id"], SITE_A.credentials["instance_id"]


async def polled(
    store: StoreConfig, transport: httpx.AsyncBaseTransport, since: datetime = datetime(2000, 1, 1, tzinfo=UTC)
) -> set[str]:
    api = PlatformClient("wix", store.base_url or "", headers=ADAPTER.headers(store), transport=transport)
    try:
        return {raw["id"] async for page in ADAPTER.list_modified(api, store, since) for raw in page}
    finally:
        await api.aclose()


async def test_start_sends_the_merchant_to_the_installer_with_our_state_inside_the_callback() -> None:
    async with installing() as wix:
        start = await wix.start(EMAIL_A)
        assert start.status_code == 302
        target = urlsplit(start.headers["location"])
        query = parse_qs(target.query)
        assert f"{target.scheme}://{target.netloc}{target.path}" == wix.app.auth_url
        assert query["appId"] == [wix.app.client_id]
        callback = urlsplit(query["postInstallationUrl"][0])
        assert f"{callback.scheme}://{callback.netloc}{callback.path}" == wix.app.redirect_uri
        assert len(parse_qs(callback.query)["state"][0]) >= 32
        assert (await wix.start("not an email")).status_code == 400


async def test_two_sites_of_one_app_connect_and_each_is_polled_for_its_own_orders() -> None:
    async with installing() as wix:
        instance_b = await wix.add_site("Bob's tees")
        answer_a = await wix.install(EMAIL_A, INSTANCE_A)
        answer_b = await wix.install(EMAIL_B, instance_b)
        assert answer_a.status_code == answer_b.status_code == 200
        assert "Ada&#39;s mugs" in answer_a.text and "Bob&#39;s tees" in answer_b.text
        site_b = next(s["site_id"] for s in await wix.sites() if s["instance_id"] == instance_b)
        a, b = await wix.store(SITE_A_ID), await wix.store(site_b)
        assert (a.merchant_email, b.merchant_email) == (EMAIL_A, EMAIL_B)
        assert a.credentials["instance_id"] == INSTANCE_A and b.credentials["instance_id"] == instance_b
        assert a.credentials["access_token"] != b.credentials["access_token"]
        assert a.base_url == b.base_url == WIX and a.webhook_secret == b.webhook_secret == PUBLIC_KEY
        assert "api_key" not in a.credentials  # the app's token alone: no pasted key
        assert ADAPTER.headers(a) == {"Authorization": a.credentials["access_token"]}  # bare, as Wix's examples
        assert [type(e) for e in wix.events] == [StoreConnected, StoreConnected]

        placed_a = (await wix.browser.post(f"{WIX}/_sandbox/orders", json={"webhook": False})).json()["id"]
        placed_b = (
            await wix.browser.post(f"{WIX}/_sandbox/sites/{instance_b}/orders", json={"webhook": False})
        ).json()["id"]
        seen_a, seen_b = await polled(a, wix.transport), await polled(b, wix.transport)
        assert placed_a in seen_a and placed_b not in seen_a
        assert seen_b == {placed_b}


async def test_250_orders_changed_inside_one_lookback_of_a_connected_site_are_all_read() -> None:
    """Through the app's token, on the second site of the app: paging by `metadata` follows every page."""
    async with installing() as wix:
        instance_b = await wix.add_site("Bob's tees")
        await wix.install(EMAIL_B, instance_b)
        site_b = next(s["site_id"] for s in await wix.sites() if s["instance_id"] == instance_b)
        store = await wix.store(site_b)
        placed = {
            (await wix.browser.post(f"{WIX}/_sandbox/sites/{instance_b}/orders", json={"webhook": False})).json()["id"]
            for _ in range(250)
        }
        # Changed a second apart from now on (the sandbox's clock): all inside the one lookback this poll reads.
        seen = await polled(store, wix.transport, datetime.now(UTC) - store.lookback)
        assert seen == placed


async def test_an_expired_token_is_refused_and_refresh_makes_a_new_one_for_the_same_instance() -> None:
    async with installing() as wix:
        assert (await wix.install(EMAIL_A, INSTANCE_A)).status_code == 200
        store = await wix.store(SITE_A_ID)
        await wix.browser.post(f"{WIX}/_sandbox/oauth/expire")
        with pytest.raises(PlatformError) as refused:
            await polled(store, wix.transport)
        assert refused.value.status == 401
        renewed = await refresh(wix.http, wix.app, store.credentials)
        assert renewed["access_token"] != store.credentials["access_token"]
        assert renewed["instance_id"] == INSTANCE_A and int(renewed["expires_at"]) >= int(
            store.credentials["expires_at"]
        )
        assert int(renewed["expires_at"]) - datetime.now(UTC).timestamp() > 14000  # Wix's four hours
        await polled(store.model_copy(update={"credentials": renewed}), wix.transport)


async def test_refresh_of_a_site_that_removed_the_app_is_a_revoked_grant() -> None:
    async with installing() as wix:
        await wix.install(EMAIL_A, INSTANCE_A)
        store = await wix.store(SITE_A_ID)
        await wix.browser.post(f"{WIX}/_sandbox/sites/{INSTANCE_A}/uninstall")
        with pytest.raises(PlatformError) as refused:  # its token died with the install
            await polled(store, wix.transport)
        assert refused.value.status == 401
        with pytest.raises(GrantRevokedError, match="no longer installed"):
            await refresh(wix.http, wix.app, store.credentials)


async def test_a_wrong_app_secret_is_our_error_never_a_revoked_grant_of_the_store() -> None:
    """Misconfigured, the app must not disconnect every store it refreshes."""
    async with installing() as wix:
        await wix.install(EMAIL_A, INSTANCE_A)
        store = await wix.store(SITE_A_ID)
        with pytest.raises(PlatformError, match="invalid_client") as refused:
            await refresh(wix.http, wix_app(secret="not-the-secret"), store.credentials)
        assert not isinstance(refused.value, GrantRevokedError) and refused.value.status == 401
        assert "not-the-secret" not in str(refused.value)


async def nothing_connected(wix: Installing) -> None:
    assert await wix.registry.stores("wix") == [] and wix.events == []


async def test_a_callback_without_our_state_or_with_a_used_one_connects_nothing() -> None:
    async with installing() as wix:
        forged = await wix.browser.get(
            "https://connect.test/connect/wix/callback", params={"instanceId": INSTANCE_A, "state": "guessed"}
        )
        assert forged.status_code == 400 and "already used, has expired" in forged.text
        await nothing_connected(wix)


async def test_a_callback_that_names_no_instance_or_a_malformed_one_connects_nothing() -> None:
    async with installing() as wix:
        for instance in ("", "../../oauth2/token", "x" * 65):
            start = await wix.start(EMAIL_A)
            callback = parse_qs(urlsplit(start.headers["location"]).query)["postInstallationUrl"][0]
            answer = await wix.browser.get(
                f"{callback}&{urlencode({'instanceId': instance})}" if instance else callback
            )
            assert answer.status_code == 400 and "did not say which site" in answer.text
        await nothing_connected(wix)


async def test_an_instance_id_where_the_app_is_not_installed_connects_nothing() -> None:
    """The query is the browser's to write: an instance id of a site that never installed the app is refused
    by Create Access Token, and nothing is connected."""
    async with installing() as wix:
        never_installed = await wix.add_site("Not mine")
        start = await wix.start(EMAIL_A)
        callback = parse_qs(urlsplit(start.headers["location"]).query)["postInstallationUrl"][0]
        answer = await wix.browser.get(
            f"{callback}&{urlencode({'instanceId': never_installed, 'appId': wix.app.client_id})}"
        )
        assert answer.status_code == 400 and "not installed on that site" in answer.text
        await nothing_connected(wix)


async def test_a_cancelled_install_never_comes_back_and_connects_nothing() -> None:
    async with installing() as wix:
        answer = await wix.install(EMAIL_A, INSTANCE_A, decision="deny")
        assert answer.status_code == 200 and "not added" in answer.text
        await nothing_connected(wix)


async def test_a_token_endpoint_that_refuses_our_app_shows_a_clear_page_and_connects_nothing() -> None:
    async with installing(app=wix_app(secret="rotated-away")) as wix:
        answer = await wix.install(EMAIL_A, INSTANCE_A)
        assert answer.status_code == 502 and "Try again" in answer.text
        assert "rotated-away" not in answer.text
        await nothing_connected(wix)


@pytest.mark.integration
async def test_each_site_s_order_webhook_reaches_the_app_url_and_only_its_own_store(redis_url: str) -> None:
    """The sandbox app delivers every site's webhook to the app's one URL; routed by the verified instanceId,
    site A's order is A's and site B's is B's, with the stores as the connect flow wrote them."""
    async with installing() as wix:
        instance_b = await wix.add_site("Bob's tees")
        await wix.install(EMAIL_A, INSTANCE_A)
        await wix.install(EMAIL_B, instance_b)
        site_b = next(s["site_id"] for s in await wix.sites() if s["instance_id"] == instance_b)
        a, b = await wix.store(SITE_A_ID), await wix.store(site_b)
        recorded, redis = Recorded(), Redis.from_url(redis_url)
        intake = Intake(ADAPTER, cast(AIOKafkaProducer, recorded), redis)
        hooks = make_app(ADAPTER, StoreRoutes(ADAPTER, {a.store_id: a, b.store_id: b}), intake, cast(ThinFetcher, None))
        server = InProcessServer()
        await server.start(hooks)
        try:
            await wix.browser.post(f"{WIX}/_sandbox/webhooks", json={"url": f"{server.url}/webhooks/wix"})
            order_a = (await wix.browser.post(f"{WIX}/_sandbox/orders", json={"webhook": False})).json()["id"]
            sent_a = await wix.browser.post(f"{WIX}/_sandbox/orders/{order_a}/webhook", json={"event": "created"})
            sent_b = (await wix.browser.post(f"{WIX}/_sandbox/sites/{instance_b}/orders", json={})).json()
            assert sent_a.json()["statuses"] == sent_b["statuses"] == [200]
        finally:
            await server.stop()
            await redis.aclose()
        published = sorted(e.order_key for e in recorded.published() if isinstance(e, OrderReceived))
        assert published == sorted([f"wix:{a.store_id}:{order_a}", f"wix:{b.store_id}:{sent_b['id']}"])
