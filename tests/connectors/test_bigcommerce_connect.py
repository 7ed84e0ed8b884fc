"""The BigCommerce single-click app, installed end to end against the sandbox: the merchant's browser steps
done by hand with httpx, the sandbox calling our uninstall callback server to server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fastapi import FastAPI, Request, Response
from psycopg import AsyncConnection
from pydantic import SecretStr

from connectors.bigcommerce.connect import COOKIE, HOOK_HEADER
from connectors.bigcommerce.signature import HEADER_VALUE
from connectors.connect.apps import PlatformApp
from connectors.connect.context import ConnectContext, connect_router
from connectors.connect.states import MemoryConnectStates
from connectors.stores import ConnectedStore, Sealer, StoreRegistry, new_key
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.memory import MemoryStoreRegistry
from connectors.stores.postgres import PostgresStoreRegistry
from plumbing.config import StoreConfig
from plumbing.database import open_pool
from sandboxes.base import make_sandbox_app
from sandboxes.bigcommerce import AUTH_PATH, SANDBOX, TOKEN_PATH
from schemas import Event, StoreConnected, StoreDisconnected, StoreUpdated
from tests.support import InProcessServer

CLIENT_ID, CLIENT_SECRET = "bc-app-client-1", "bc-app-client-secret-7f3a9c0e5d2b8a41c6f9"
STORE_HASH, OWNER = "abc123", "owner@example.com"
MERCHANT = "merchant@example.com"


@dataclass
class Running:
    sandbox: InProcessServer
    connector: InProcessServer
    registry: StoreRegistry
    events: list[Event]
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    hook_status: list[int] = field(default_factory=lambda: [200])

    @property
    def callback(self) -> str:
        return f"{self.connector.url}/connect/bigcommerce/callback"

    @property
    def webhook_url(self) -> str:
        return f"{self.connector.url}/webhooks/bigcommerce/{STORE_HASH}"


@asynccontextmanager
async def running_app(registry: StoreRegistry | None = None) -> AsyncIterator[Running]:
    """The sandbox store with our app registered, and a connector serving the BigCommerce connect routes plus a
    receiver standing in for `/webhooks/bigcommerce/<store_id>` (records what arrives, answers `hook_status`)."""
    sandbox, connector = InProcessServer(), InProcessServer()
    store = StoreConfig.model_validate(
        {
            "platform": "bigcommerce",
            "store_id": "bc-app-store",
            "merchant_email": OWNER,
            "base_url": sandbox.url,
            "credentials": {"store_hash": STORE_HASH, "client_id": CLIENT_ID, "access_token": "yaml-api-account"},
            "webhook_secret": CLIENT_SECRET,
        }
    )
    registry = registry or MemoryStoreRegistry(Sealer([new_key()]))
    events: list[Event] = []

    async def publish(batch) -> None:
        events.extend(batch)

    app = PlatformApp(
        platform="bigcommerce",
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        auth_url=sandbox.url + AUTH_PATH,
        token_url=sandbox.url + TOKEN_PATH,
        api_url=sandbox.url,
        base_url=connector.url,
    )
    http = httpx.AsyncClient(timeout=10)
    ctx = ConnectContext(app, MemoryConnectStates(), StoreLifecycle(registry, publish), registry, http)
    running = Running(sandbox, connector, registry, events)
    ours = FastAPI()
    router = connect_router(ctx)
    assert router is not None
    ours.include_router(router)

    @ours.post("/webhooks/bigcommerce/{store_id}")
    async def receive(store_id: str, request: Request) -> Response:
        running.deliveries.append((dict(request.headers), await request.body()))
        return Response(status_code=running.hook_status[0])

    await sandbox.start(make_sandbox_app(SANDBOX, store))
    await connector.start(ours)
    try:
        async with httpx.AsyncClient(timeout=10) as control:
            configured = await control.post(
                f"{sandbox.url}/_sandbox/oauth",
                json={
                    "redirect_uris": [running.callback],
                    "load_url": f"{connector.url}/connect/bigcommerce/load",
                    "uninstall_url": f"{connector.url}/connect/bigcommerce/uninstall",
                },
            )
            assert configured.status_code == 200
        yield running
    finally:
        await connector.stop()
        await sandbox.stop()
        await http.aclose()


async def install(
    browser: httpx.AsyncClient, running: Running, merchant_email: str | None = MERCHANT
) -> httpx.Response:
    return await install_from(browser, running.connector.url, running.sandbox.url, merchant_email)


async def install_from(
    browser: httpx.AsyncClient, connector: str, sandbox: str, merchant_email: str | None = MERCHANT
) -> httpx.Response:
    """The merchant's clicks, and our Auth callback's answer. With an email: our Connect button, which is
    BigCommerce's external install; without: the install begun in the control panel (nothing of ours in it)."""
    if merchant_email is None:
        page = f"{sandbox}/manage/marketplace/apps/{CLIENT_ID}"
    else:
        started = await browser.get(f"{connector}/connect/bigcommerce/start", params={"merchant_email": merchant_email})
        assert started.status_code == 302, started.text
        page = started.headers["location"]
        assert page == f"{sandbox}/app/{CLIENT_ID}/install"
    shown = await browser.get(page)
    assert shown.status_code == 200 and "store_v2_orders_read_only" in shown.text
    form = {"decision": "install", "external": "true" if merchant_email else ""}
    consented = await browser.post(f"{sandbox}/app/{CLIENT_ID}/install", data=form)
    assert consented.status_code == 302
    back = consented.headers["location"]
    query = parse_qs(urlsplit(back).query)
    assert back.startswith(f"{connector}/connect/bigcommerce/callback?")
    assert query["context"] == [f"stores/{STORE_HASH}"] and "account_uuid" in query
    assert ("external_install" in query) == (merchant_email is not None)
    return await browser.get(back)


async def test_install_connects_the_store_with_the_token_and_registers_its_order_hooks() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        answer = await install(browser, running)
        # An external install ends on BigCommerce's own page, which closes its install window.
        assert answer.status_code == 302
        assert answer.headers["location"] == f"{running.sandbox.url}/app/{CLIENT_ID}/install/succeeded"
        assert (await browser.get(answer.headers["location"])).status_code == 200
        assert COOKIE not in browser.cookies  # used once

        store = await running.registry.get("bigcommerce", STORE_HASH)
        assert store is not None and store.status == "connected" and store.merchant_email == MERCHANT
        assert store.details == {"base_url": f"{running.sandbox.url}/stores/{STORE_HASH}"}
        credentials = (await running.registry.credentials("bigcommerce", STORE_HASH)).values
        assert credentials["store_hash"] == STORE_HASH and credentials["client_id"] == CLIENT_ID
        assert len(credentials[HEADER_VALUE]) >= 32
        assert [type(e) for e in running.events] == [StoreConnected]
        assert CLIENT_SECRET not in str(credentials)  # the app's secret is not copied into the store

        # The token is the sandbox's, and its API takes it at the store's address.
        orders = await browser.get(
            f"{store.details['base_url']}/v2/orders", headers={"X-Auth-Token": credentials["access_token"]}
        )
        assert orders.status_code == 200 and orders.json()
        # The order hooks were registered with the store's own header, and an order's delivery carries it.
        hooks = (await browser.get(f"{running.sandbox.url}/_sandbox/hooks")).json()["hooks"]
        assert sorted(h["scope"] for h in hooks) == ["store/order/created", "store/order/updated"]
        assert {h["destination"] for h in hooks} == {running.webhook_url}
        assert all(
            h["client_id"] == CLIENT_ID and h["headers"] == {HOOK_HEADER: credentials[HEADER_VALUE]} for h in hooks
        )
        await browser.post(f"{running.sandbox.url}/_sandbox/orders", json={})
        await eventually(lambda: bool(running.deliveries), "the created hook's delivery")
        headers, _ = running.deliveries[0]
        assert headers[HOOK_HEADER.lower()] == credentials[HEADER_VALUE]


async def test_an_install_begun_inside_bigcommerce_uses_the_owner_email_the_token_gives() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        answer = await install(browser, running, merchant_email=None)
        # The page is shown in the control panel's iframe: framed by BigCommerce only.
        assert answer.status_code == 200 and "Store connected" in answer.text and OWNER in answer.text
        assert "frame-ancestors https://*.bigcommerce.com" in answer.headers["content-security-policy"]
        store = await running.registry.get("bigcommerce", STORE_HASH)
        assert store is not None and store.merchant_email == OWNER


async def test_a_replayed_install_code_is_refused_and_connects_nothing_more() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        first = await install(browser, running, merchant_email=None)
        assert first.status_code == 200
        again = await browser.get(str(first.request.url))
        assert again.status_code == 400 and "Store not connected" in again.text
        assert [type(e) for e in running.events] == [StoreConnected]
        # From our button (an external install), the refusal ends on BigCommerce's "failed" page.
        external = await install(browser, running)
        assert external.headers["location"].endswith("/install/succeeded")
        replayed = await browser.get(str(external.request.url))
        assert replayed.status_code == 302 and replayed.headers["location"].endswith("/install/failed")
        assert [type(e) for e in running.events] == [StoreConnected, StoreUpdated]


@pytest.mark.parametrize(
    "query",
    [
        {"code": "forged-code", "scope": "store_v2_orders_read_only", "context": f"stores/{STORE_HASH}"},
        {"scope": "store_v2_orders_read_only", "context": f"stores/{STORE_HASH}"},  # no code
        {"code": "x", "scope": "store_v2_orders_read_only", "context": "stores/../../admin"},
        {"code": "x", "scope": "store_v2_orders_read_only", "context": "stores/otherhash"},  # not the code's store
    ],
)
async def test_an_unknown_code_or_a_bad_context_is_refused_and_connects_nothing(query: dict[str, str]) -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        answer = await browser.get(running.callback, params=query)
        assert answer.status_code == 400 and "Store not connected" in answer.text
        assert await running.registry.stores() == [] and running.events == []


async def test_a_stale_connect_cookie_falls_back_to_the_owner_email_the_token_gives() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        browser.cookies.set(COOKIE, "a-state-that-was-never-issued", path="/connect/bigcommerce")
        answer = await install(browser, running, merchant_email=None)
        assert answer.status_code == 200 and OWNER in answer.text
        store = await running.registry.get("bigcommerce", STORE_HASH)
        assert store is not None and store.merchant_email == OWNER


async def test_a_bad_merchant_email_on_start_is_refused_400() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        answer = await browser.get(
            f"{running.connector.url}/connect/bigcommerce/start", params={"merchant_email": "nope"}
        )
        assert answer.status_code == 400 and COOKIE not in answer.headers.get("set-cookie", "")


def payload(secret: str = CLIENT_SECRET, **changes: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "aud": CLIENT_ID, "iss": "bc", "iat": now, "nbf": now, "exp": now + 3600, "jti": "j-1",
        "sub": f"stores/{STORE_HASH}", "user": {"id": 1, "email": OWNER}, "owner": {"id": 1, "email": OWNER},
    }  # fmt: skip
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


async def test_load_shows_the_connected_store_from_the_sandboxes_own_signed_payload() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        await install(browser, running)
        opened = await browser.get(f"{running.sandbox.url}/_sandbox/app/load")
        assert opened.status_code in (302, 307)
        shown = await browser.get(opened.headers["location"])
        assert shown.status_code == 200 and MERCHANT in shown.text


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (payload(secret="another-apps-client-secret-0123456789"), "signed by another app"),
        (payload(aud="another-client-id"), "for another app"),
        (
            payload(
                iat=int(time.time()) - 3 * 86400, nbf=int(time.time()) - 3 * 86400, exp=int(time.time()) - 2 * 86400
            ),
            "expired",
        ),
        (payload(iat=None), "no iat"),
        (payload(exp=int(time.time()) + 365 * 86400), "signed to live a year"),
        (
            payload(iat=int(time.time()) + 3600, nbf=int(time.time()) + 3600, exp=int(time.time()) + 7200),
            "from the future",
        ),
        (payload(sub="stores/../x"), "no store"),
        (payload()[:-4] + "AAAA", "tampered"),
        (jwt.encode(jwt.decode(payload(), options={"verify_signature": False}), None, algorithm="none"), "alg none"),
        ("", "missing"),
    ],
)
async def test_load_and_uninstall_with_a_bad_signed_payload_are_refused_401(token: str, why: str) -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        await install(browser, running)
        for callback in ("load", "uninstall"):
            answer = await browser.get(
                f"{running.connector.url}/connect/bigcommerce/{callback}", params={"signed_payload_jwt": token}
            )
            assert answer.status_code == 401, (callback, why)
        store = await running.registry.get("bigcommerce", STORE_HASH)
        assert store is not None and store.status == "connected"


async def test_load_of_a_store_not_connected_is_refused_403() -> None:
    async with running_app() as running, httpx.AsyncClient(timeout=10) as browser:
        answer = await browser.get(
            f"{running.connector.url}/connect/bigcommerce/load", params={"signed_payload_jwt": payload()}
        )
        assert answer.status_code == 403 and "not connected" in answer.text


async def test_an_uninstall_replayed_after_a_reinstall_leaves_the_store_connected() -> None:
    later = [datetime.now(UTC)]
    registry = MemoryStoreRegistry(Sealer([new_key()]), clock=lambda: later[0])
    async with running_app(registry) as running, httpx.AsyncClient(timeout=10) as browser:
        await install(browser, running)
        old_uninstall = payload()
        uninstalled = await browser.get(
            f"{running.connector.url}/connect/bigcommerce/uninstall", params={"signed_payload_jwt": old_uninstall}
        )
        assert uninstalled.status_code == 200
        later[0] = datetime.now(UTC) + timedelta(seconds=5)  # reinstalled after the uninstall's signed payload
        await install(browser, running)
        replayed = await browser.get(
            f"{running.connector.url}/connect/bigcommerce/uninstall", params={"signed_payload_jwt": old_uninstall}
        )
        assert replayed.status_code == 200 and "ignored" in replayed.text
        store = await running.registry.get("bigcommerce", STORE_HASH)
        assert store is not None and store.status == "connected"


async def test_uninstall_disconnects_the_store_and_its_credentials_are_gone_from_postgresql(postgres) -> None:
    pool = open_pool(postgres.url)
    await pool.open(wait=True)
    registry = PostgresStoreRegistry(pool, Sealer([new_key()]))
    await registry.migrate()
    async with pool.connection() as conn:
        await conn.execute("TRUNCATE connectors.stores")
    try:
        async with running_app(registry) as running, httpx.AsyncClient(timeout=10) as browser:
            await install(browser, running)
            token = (await registry.credentials("bigcommerce", STORE_HASH)).values["access_token"]
            # The merchant uninstalls in the control panel: BigCommerce calls our Uninstall callback.
            done = (await browser.post(f"{running.sandbox.url}/_sandbox/app/uninstall")).json()
            assert done == {"uninstall_callback": 200, "hooks_deleted": 2}
            assert [type(e) for e in running.events] == [StoreConnected, StoreDisconnected]
            gone = running.events[-1]
            assert isinstance(gone, StoreDisconnected) and "uninstalled" in gone.reason
            async with await AsyncConnection.connect(postgres.url) as conn:
                row = await (
                    await conn.execute(
                        "SELECT status, credentials FROM connectors.stores WHERE platform = %s AND store_id = %s",
                        ("bigcommerce", STORE_HASH),
                    )
                ).fetchone()
            assert row == ("disconnected", None)
            refused = await browser.get(
                f"{running.sandbox.url}/stores/{STORE_HASH}/v2/orders", headers={"X-Auth-Token": token}
            )
            assert refused.status_code == 401  # and BigCommerce no longer takes the token
    finally:
        await pool.close()


async def eventually(check, what: str, within_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class _DownRegistry(MemoryStoreRegistry):
    async def connect(self, *args: object, **kwargs: object) -> ConnectedStore:
        raise ConnectionError("the database is down")


async def test_a_registry_that_fails_answers_503_never_500_and_announces_nothing() -> None:
    async with running_app(_DownRegistry(Sealer([new_key()]))) as running, httpx.AsyncClient(timeout=10) as browser:
        answer = await install(browser, running)
        assert answer.status_code == 503 and "Store not connected" in answer.text
        assert running.events == [] and await running.registry.stores() == []
