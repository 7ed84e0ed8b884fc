"""BigCommerce: an unchanged order is not fetched again (products and addresses), the hook's own header as
authentication (alone or beside the signature), and webhook order ids checked before any fetch path."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
import respx

from connectors.bigcommerce import ADAPTER
from connectors.bigcommerce.known import KnownOrders, keep
from connectors.errors import InvalidSignatureError, RefusedOrderIdError
from sandboxes.base import OrderSpec, SandboxState, make_sandbox_app
from sandboxes.bigcommerce import SANDBOX
from schemas import DeadLetter
from tests.connectors.platform_case import PlatformCase
from tests.connectors.stores.bigcommerce import UNIT
from tests.connectors.webhook_app import webhook_client

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
SANDBOX_STORE = UNIT.model_copy(update={"base_url": "http://sandbox"})
TOKEN = "hk_" + "7f3a9c" * 8  # 51 characters, as a store would set it: random
HEADER = {"webhook_header_name": "X-Personalize-Hook", "webhook_header_value": TOKEN}


def with_header(secret: str | None = UNIT.webhook_secret, **credentials: str) -> object:
    return UNIT.model_copy(update={"webhook_secret": secret, "credentials": {**UNIT.credentials, **credentials}})


def delivery(store, sender=None) -> tuple[httpx.Headers, bytes]:
    """A `store/order/created` delivery as the sandbox sends it for `sender` (default: the store itself)."""
    state = SandboxState(store=sender or store)
    raw = SANDBOX.new_order(state, OrderSpec())
    headers, body = SANDBOX.webhook(state, raw, "created", thin=True)
    return httpx.Headers(headers), body


class TestUnchangedOrders(PlatformCase):
    adapter, sandbox, store = ADAPTER, SANDBOX, SANDBOX_STORE

    async def test_an_unchanged_order_is_not_fetched_again_products_or_addresses(self) -> None:
        app = make_sandbox_app(SANDBOX, self.store)
        state: SandboxState = app.state.sandbox
        state.orders.clear()
        placed = [SANDBOX.new_order(state, OrderSpec()) for _ in range(3)]
        for raw in placed:
            state.orders[str(raw["id"])] = raw
        api = self.client(httpx.ASGITransport(app=app))  # one client: as a connector polls, interval after interval
        try:

            async def poll() -> tuple[int, list[dict]]:
                before = state.api_calls
                orders = [o async for page in ADAPTER.list_modified(api, self.store, EPOCH) for o in page]
                return state.api_calls - before, orders

            calls, first = await poll()
            assert calls == 1 + 3 * 2  # the listing, then each order's products and addresses
            calls, again = await poll()
            assert calls == 1  # the lookback re-reads them all: the listing only
            assert [o["products"] for o in again] == [o["products"] for o in first]
            assert [o["shipping_addresses"] for o in again] == [o["shipping_addresses"] for o in first]
            assert all(ADAPTER.map_order(self.store, o).order.line_items for o in again)

            SANDBOX.set_status(state, placed[1], "cancelled")  # a new date_modified: fetched whole again
            placed[1]["_products"][0]["quantity"] = 2
            calls, changed = await poll()
            assert calls == 1 + 2
            assert changed[-1]["id"] == placed[1]["id"] and changed[-1]["products"][0]["quantity"] == 2

            before = state.api_calls  # a webhook's fetch of an order known in this version: the order only
            assert (await ADAPTER.fetch_order(api, self.store, str(placed[0]["id"])))["products"]
            assert state.api_calls - before == 1
        finally:
            await api.aclose()

    def test_the_memory_of_fetched_orders_is_bounded_per_store_and_forgets_what_no_poll_lists_again(self) -> None:
        now = [0.0]
        known = KnownOrders(capacity=2, clock=lambda: now[0])
        a, b = UNIT, UNIT.model_copy(update={"store_id": "other"})
        rows = ([{"id": 1, "product_options": [{"value": "Ada"}]}], [{"zip": "78751"}])
        when = "Tue, 05 Mar 2019 21:40:11 +0000"
        for order_id in (1, 2, 3):
            known.put(a, {"id": order_id, "date_modified": when}, rows)
        assert len(known) == 2 and known.get(a, {"id": 1, "date_modified": when}) is None  # the oldest went
        order = {"id": 3, "date_modified": when}
        assert known.get(a, order) == rows and known.get(b, order) is None
        assert known.get(a, {**order, "date_modified": "Tue, 05 Mar 2019 21:40:12 +0000"}) is None
        known.put(a, {"id": 4}, rows)  # no date_modified: nothing to tell versions apart by
        assert known.get(a, {"id": 4}) is None
        now[0] += keep(a) - 1  # still inside the lookback (each use keeps it longer) ...
        assert known.get(a, order) == rows
        now[0] += keep(a) + 1  # ... then no poll can list it again unchanged: forgotten
        assert known.get(a, order) is None and len(known) == 0
        assert keep(a) == (UNIT.lookback + 2 * UNIT.poll_interval).total_seconds() == 720


# --- the hook's own header ----------------------------------------------------------------------------------


def test_the_custom_header_set_on_registration_authenticates_a_delivery_alone() -> None:
    store = with_header(secret=None, **HEADER)
    headers, body = delivery(store)
    assert headers["x-personalize-hook"] == TOKEN  # the sandbox echoes the hook's headers, as BigCommerce does
    ADAPTER.verify_webhook(store, headers, body)
    for forged in (TOKEN[:-1] + "0", TOKEN[:-1], TOKEN + "0", "", TOKEN.upper()):
        with pytest.raises(InvalidSignatureError, match="does not match"):
            ADAPTER.verify_webhook(store, httpx.Headers({**headers, "X-Personalize-Hook": forged}), body)
    state = SandboxState(store=store)
    unsigned, body = SANDBOX.unsigned_webhook(state, SANDBOX.new_order(state, OrderSpec()), "created")
    with pytest.raises(InvalidSignatureError, match="missing x-personalize-hook"):
        ADAPTER.verify_webhook(store, httpx.Headers(unsigned), body)


def test_with_the_header_and_the_client_secret_configured_both_must_hold() -> None:
    store = with_header(**HEADER)
    ADAPTER.verify_webhook(store, *delivery(store))
    only_signed = delivery(store, sender=UNIT)  # signed right, without the header
    with pytest.raises(InvalidSignatureError, match="missing"):
        ADAPTER.verify_webhook(store, *only_signed)
    other_secret = delivery(store, sender=with_header(secret="someone-elses-secret", **HEADER))
    with pytest.raises(InvalidSignatureError):
        ADAPTER.verify_webhook(store, *other_secret)


@pytest.mark.parametrize(
    ("credentials", "refusal"),
    [
        ({"webhook_header_name": "X-Personalize-Hook"}, "go together"),
        ({"webhook_header_value": TOKEN}, "go together"),
        ({**HEADER, "webhook_header_value": "short-token"}, "shorter than 32"),
        ({**HEADER, "webhook_header_name": "webhook-signature"}, "not a header of your own"),
        ({**HEADER, "webhook_header_name": "X Bad: header"}, "not a header of your own"),
    ],
)
def test_a_half_configured_or_weak_custom_header_refuses_every_webhook(credentials: dict, refusal: str) -> None:
    store = with_header(**credentials)
    with pytest.raises(InvalidSignatureError, match=refusal):
        ADAPTER.verify_webhook(store, *delivery(store))


# --- ids ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order_id", ["../../x", "250/../../../v3/customers", "٢٥٠", "²", "0", -250, True, 2.5])
async def test_a_bigcommerce_order_id_that_is_not_digits_is_refused_400_and_nothing_fetched(order_id) -> None:
    body = json.dumps({"scope": "store/order/updated", "data": {"type": "order", "id": order_id}}).encode()
    headers, body = SANDBOX.sign_raw(SandboxState(store=UNIT), body, "updated")
    async with webhook_client(ADAPTER, UNIT) as (http, recorded):
        response = await http.post(f"/webhooks/bigcommerce/{UNIT.store_id}", content=body, headers=headers)
    assert (response.status_code, recorded.queued) == (400, [])
    (dead,) = recorded.published()
    assert isinstance(dead, DeadLetter) and "not an order id" in dead.error


class TestFetchPath(PlatformCase):
    adapter, sandbox, store = ADAPTER, SANDBOX, UNIT

    @respx.mock(assert_all_called=False, assert_all_mocked=True)  # the one route must stay uncalled
    async def test_a_fetch_never_builds_a_path_from_an_id_that_is_not_digits(self, respx_mock) -> None:
        route = respx_mock.get(url__startswith=UNIT.base_url).mock(return_value=httpx.Response(200, json={}))
        with pytest.raises(RefusedOrderIdError):
            await self.fetch("../../v3/customers")
        assert route.call_count == 0
