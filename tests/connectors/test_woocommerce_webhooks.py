"""WooCommerce webhooks at the connector's door: the creation ping on a delivery URL with or without a trailing
slash, `order.deleted` ids refused unless they are post ids, and a trashed order restored."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import respx

from connectors.errors import RefusedOrderIdError
from connectors.platform import FullOrder, OrderRef
from connectors.woocommerce import ADAPTER
from core.decide import Policy, apply
from plumbing.config import Config, ProductMatch
from sandboxes.base import ItemSpec, OrderSpec, SandboxState, make_sandbox_app
from sandboxes.woocommerce import SANDBOX, WEBHOOKS
from schemas import DeadLetter, OrderStatus, OrderUpdated
from tests.connectors.platform_case import PlatformCase
from tests.connectors.stores.woocommerce import BASE, UNIT
from tests.connectors.webhook_app import connector_app, webhook_client
from tests.support import InProcessServer

URL = f"/webhooks/woocommerce/{UNIT.store_id}"
KEYS = (UNIT.credentials["consumer_key"], UNIT.credentials["consumer_secret"])
PING = {"content-type": "application/x-www-form-urlencoded", "user-agent": "WooCommerce/9.0 Hookshot (WordPress/6.5)"}


def deleted(order_id: object) -> tuple[dict[str, str], bytes]:
    """An `order.deleted` delivery, signed with the store's secret (the sandbox signs as WooCommerce does)."""
    body = json.dumps({"id": order_id}).encode()
    return SANDBOX.sign_raw(SandboxState(store=UNIT), body, "deleted")


# --- the creation ping and the trailing slash -------------------------------------------------------------


@pytest.mark.parametrize("path", [URL, URL + "/"])
async def test_a_trailing_slash_on_the_delivery_url_answers_the_creation_ping_200(path: str) -> None:
    async with webhook_client(ADAPTER, UNIT) as (http, recorded):
        response = await http.post(path, content=b"webhook_id=12", headers=PING)
        assert (response.status_code, response.text) == (200, "pong")
        headers, body = deleted(727)  # and a real delivery to that URL is read as one
        response = await http.post(path, content=body, headers=headers)
        assert (response.status_code, recorded.queued) == (200, [(UNIT.key, "727")])
        assert (await http.post(URL + "//", content=b"webhook_id=12", headers=PING)).status_code == 404


@pytest.mark.integration  # an HTTP server of its own (the connector's app), which the sandbox pings
async def test_a_webhook_created_with_a_trailing_slash_url_is_pinged_and_saved_active() -> None:
    app, recorded = connector_app(ADAPTER, UNIT)
    connector = InProcessServer()
    await connector.start(app)
    try:
        sandbox = make_sandbox_app(SANDBOX, UNIT)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="https://shop") as shop:
            spec = {"name": "orders", "topic": "order.updated", "secret": "s", "status": "active"}
            for delivery_url in (f"{connector.url}{URL}/", f"{connector.url}{URL}"):
                created = await shop.post(WEBHOOKS, json={**spec, "delivery_url": delivery_url}, auth=KEYS)
                assert created.status_code == 201
                hook = (await shop.get(f"{WEBHOOKS}/{created.json()['id']}", auth=KEYS)).json()
                assert (hook["ping_answer"], hook["pending_delivery"]) == (200, False)
            unknown = {**spec, "delivery_url": f"{connector.url}/webhooks/woocommerce/nobody/"}
            refused = (await shop.post(WEBHOOKS, json=unknown, auth=KEYS)).json()
            assert (refused["ping_answer"], refused["pending_delivery"]) == (404, True)  # saved, still pending delivery
    finally:
        await connector.stop()
    assert recorded.sent == [] and recorded.queued == []  # a ping publishes nothing


# --- ids from order.deleted ---------------------------------------------------------------------------------

REFUSED_IDS = [
    "../../x",
    "727/../../../wp/v2/users",
    "..%2F..%2Fx",
    "727?force=true",
    "727#x",
    "",
    " 727",
    "0",
    "-1",
    -1,
    0,
    1.5,
    True,
    None,
    [727],
    {"id": 727},
    "٧٢٧",
    "1" * 21,
]


@pytest.mark.parametrize("order_id", REFUSED_IDS, ids=repr)
async def test_an_order_deleted_id_that_is_not_digits_is_refused_400_and_nothing_fetched(order_id: object) -> None:
    async with webhook_client(ADAPTER, UNIT) as (http, recorded):
        headers, body = deleted(order_id)
        response = await http.post(URL, content=body, headers=headers)
    assert (response.status_code, response.text) == (400, "order id refused")
    assert recorded.queued == []  # nothing fetched ...
    (dead,) = recorded.published()  # ... and nothing lost: the delivery is in dead-letters with the reason
    assert isinstance(dead, DeadLetter) and "not a WooCommerce order id" in dead.error


@pytest.mark.parametrize("order_id", [727, "727", 18446744073709551615])
async def test_an_order_deleted_post_id_is_queued_for_a_fetch(order_id: object) -> None:
    async with webhook_client(ADAPTER, UNIT) as (http, recorded):
        headers, body = deleted(order_id)
        assert (await http.post(URL, content=body, headers=headers)).status_code == 200
    assert recorded.queued == [(UNIT.key, str(order_id))]


class TestFetchPath(PlatformCase):
    adapter, sandbox, store = ADAPTER, SANDBOX, UNIT

    @respx.mock(assert_all_called=False, assert_all_mocked=True)  # the one route must stay uncalled
    async def test_a_fetch_never_builds_a_path_from_an_id_that_is_not_digits(self, respx_mock) -> None:
        route = respx_mock.get(url__startswith=BASE).mock(return_value=httpx.Response(200, json={}))
        with pytest.raises(RefusedOrderIdError):
            await self.fetch("../../../wp/v2/users")
        assert route.call_count == 0


# --- trash and restore --------------------------------------------------------------------------------------

STORE = UNIT.model_copy(update={"products": [ProductMatch(product_id="93", template="name-mug")]})
POLICY = Policy(
    Config.model_validate(
        {"templates": {"name-mug": {"title": "Name mug", "fields": [{"name": "name", "type": "text"}]}}, "stores": []}
    ).model_copy(update={"stores": [STORE]}),
    link_delay=timedelta(minutes=15),
)


class TestTrashAndRestore(PlatformCase):
    adapter, sandbox, store = ADAPTER, SANDBOX, STORE

    async def test_a_trashed_then_restored_order_is_published_again_not_cancelled_and_paid(self) -> None:
        app = make_sandbox_app(SANDBOX, STORE)
        state: SandboxState = app.state.sandbox
        transport = httpx.ASGITransport(app=app)
        raw = SANDBOX.new_order(state, OrderSpec(items=[ItemSpec(buyer_text="Ada")]))
        state.orders[str(raw["id"])] = raw
        placed = ADAPTER.map_order(STORE, raw)

        SANDBOX.trash(state, raw)  # order.deleted: only the id; the order then reads as trashed
        headers, body = SANDBOX.webhook(state, raw, "deleted", thin=False)
        assert json.loads(body) == {"id": raw["id"]} and headers["X-WC-Webhook-Topic"] == "order.deleted"
        assert ADAPTER.read_webhook(STORE, httpx.Headers(headers), body) == OrderRef(str(raw["id"]))
        trashed = ADAPTER.map_order(STORE, await self.fetch(str(raw["id"]), transport))
        assert (trashed.order.cancelled, trashed.modified_at > placed.modified_at) == (True, True)
        assert [page async for page in self.list_modified(self.client(transport), STORE, placed.modified_at)] == []

        SANDBOX.restore(state, raw)  # order.restored: the whole order, back in the status it had
        headers, body = SANDBOX.webhook(state, raw, "restored", thin=False)
        note = ADAPTER.read_webhook(STORE, httpx.Headers(headers), body)
        assert isinstance(note, FullOrder) and note.raw["status"] == "processing"
        restored = ADAPTER.map_order(STORE, note.raw)
        assert (restored.order.cancelled, restored.order.payment_status) == (False, "paid")
        assert restored.modified_at > trashed.modified_at  # a newer version: published as a change, not stale

    def test_core_keeps_an_order_it_cancelled_when_trashed_cancelled_after_the_restore(self) -> None:
        # Documented in docs/architecture.md: cancelled is final in core (links revoked, fulfillment stopped);
        # the restored order's snapshot is kept, so the merchant sees it, and nothing restarts on its own.
        state = SandboxState(store=STORE)
        raw = SANDBOX.new_order(state, OrderSpec(items=[ItemSpec(buyer_text="Ada")]))
        received = ADAPTER.map_order(STORE, raw).order
        SANDBOX.trash(state, raw)
        trashed = OrderUpdated(**ADAPTER.map_order(STORE, raw).order.model_dump(exclude={"event_type", "event_id"}))
        SANDBOX.restore(state, raw)
        restored = OrderUpdated(**ADAPTER.map_order(STORE, raw).order.model_dump(exclude={"event_type", "event_id"}))
        order = None
        for event in (received, trashed, restored):
            decision = apply(order, event, POLICY, event.occurred_at)
            assert decision.rejected is None
            order = decision.order or order
        assert order is not None and order.status is OrderStatus.CANCELLED
        assert order.snapshot.cancelled is False and order.snapshot.payment_status == "paid"
