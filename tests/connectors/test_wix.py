"""Wix: mapping of the documented order shape, JWT webhooks, and the Search Orders conversation.

The order below follows the Search Orders and Order Approved examples of the
Wix REST docs (ids, dates, names and the catalog reference are theirs; the
docs' excerpts stop before prices and addresses, which are filled in the
documented shape). Tokens are built here with PyJWT and a key made here, not
with the sandbox's code. respx serves responses at the httpx transport: an
unmatched request fails the test, and so does a route never called.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.client import PlatformClient
from connectors.errors import InvalidSignatureError, PlatformError, UnmappableOrderError, UnreadableWebhookError
from connectors.platform import FullOrder, NothingToDo, OrderRef
from connectors.wix import ADAPTER
from plumbing.config import StoreConfig
from sandboxes.base import OrderSpec

BASE = "https://www.wixapis.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
NO_HEADERS = httpx.Headers({})  # Wix signs the body itself; no header carries anything we read
STORES_APP = "215238eb-22a5-4c36-9e7b-e7c08025e04e"
STORE = StoreConfig(platform="wix", store_id="wix", merchant_email="m@example.com", base_url=BASE,
                    credentials={"api_key": "IST.key-1", "site_id": "site-1"}, webhook_secret=PUBLIC_PEM)


def money(amount: str) -> dict:
    return {"amount": amount, "formattedAmount": f"${amount}"}


def documented_order() -> dict:
    address = {"country": "US", "subdivision": "US-NY", "city": "New York", "postalCode": "10011",
               "addressLine1": "235 West 23rd Street", "addressLine2": "3rd floor"}
    contact = {"firstName": "Jane", "lastName": "Doe", "phone": "+12125550100"}
    return {
        "id": "6f759095-0701-4075-9908-c9c31ff013e1", "number": "10126",
        "createdDate": "2023-11-10T08:28:58.917Z", "updatedDate": "2023-11-10T08:53:44.343Z",
        "lineItems": [{
            "id": "00000000-0000-0000-0000-000000000001", "productName": {"original": "Indonesian Blend"},
            "catalogReference": {"catalogItemId": "5376f9ec-b92e-efa9-e4a1-f4f480aa0d3a", "appId": STORES_APP,
                                 "options": {"variantId": "00000000-0000-003f-0005-ad9cdc10d3b8", "customTextFields": {
                                     "What would you like written on the custom label?": "Hope you enjoy it! :)"}}},
            "quantity": 2, "physicalProperties": {"sku": "COFFEE-IB", "shippable": True}, "price": money("12.5"),
        }, {
            "id": "00000000-0000-0000-0000-000000000002", "productName": {"original": "MENU PREBIOTIC"},
            "catalogReference": {"catalogItemId": "58620c7f-6bd5-ec74-c139-3bf17ff10151", "appId": STORES_APP,
                                 "options": {"options": {}, "variantId": "00000000-0000-0000-0000-000000000000"}},
            "quantity": 1, "physicalProperties": {"shippable": True}, "price": money("0"),
        }],
        "buyerInfo": {"contactId": "c-1", "email": "jane@example.com"}, "paymentStatus": "PAID", "status": "APPROVED",
        "currency": "USD", "priceSummary": {"total": money("29.99")},
        "billingInfo": {"address": address, "contactDetails": contact},
        "shippingInfo": {"logistics": {"shippingDestination": {"address": address, "contactDetails": contact}}},
    }


def token(claims: dict, key=KEY) -> bytes:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 300, **claims}, key, algorithm="RS256").encode()


def delivery(event: dict, key=KEY) -> bytes:
    envelope = {"eventType": "wix.ecom.v1.order_x", "instanceId": "i-1", "data": json.dumps(event)}
    return token({"data": json.dumps(envelope)}, key)


def event(slug: str, **carrier) -> dict:
    return {"id": "e-1", "entityFqdn": "wix.ecom.v1.order", "slug": slug, "entityId": "6f759095", **carrier}


# --- mapping -----------------------------------------------------------------


def test_the_documented_order_maps_field_by_field():
    mapped = ADAPTER.map_order(STORE, documented_order())
    order = mapped.order
    assert order.order_key == "wix:wix:6f759095-0701-4075-9908-c9c31ff013e1" and order.order_number == "10126"
    assert order.placed_at == datetime(2023, 11, 10, 8, 28, 58, 917000, tzinfo=timezone.utc)
    assert mapped.modified_at == datetime(2023, 11, 10, 8, 53, 44, 343000, tzinfo=timezone.utc)
    assert (order.payment_status, order.cancelled, order.is_test) == ("paid", False, False)
    assert (order.currency, order.total) == ("USD", "29.99")
    assert order.customer.name == "Jane Doe" and order.customer.email == "jane@example.com"
    ship = order.shipping_address
    assert (ship.line1, ship.line2, ship.city, ship.region, ship.postal_code, ship.country) == (
        "235 West 23rd Street", "3rd floor", "New York", "NY", "10011", "US")
    coffee, menu = order.line_items
    assert (coffee.product_id, coffee.variant_id, coffee.sku) == (
        "5376f9ec-b92e-efa9-e4a1-f4f480aa0d3a", "00000000-0000-003f-0005-ad9cdc10d3b8", "COFFEE-IB")
    assert (coffee.title, coffee.quantity, coffee.unit_price) == ("Indonesian Blend", 2, "12.50")
    assert coffee.buyer_personalization == "Hope you enjoy it! :)"  # no configured label: every field
    assert (menu.variant_id, menu.sku, menu.unit_price, menu.buyer_personalization) == (None, None, "0.00", None)


@pytest.mark.parametrize(("status", "payment", "expected"), [
    ("APPROVED", "PAID", ("paid", False)), ("APPROVED", "NOT_PAID", ("unpaid", False)),
    ("APPROVED", "PENDING", ("unpaid", False)), ("APPROVED", "PARTIALLY_PAID", ("unpaid", False)),
    ("APPROVED", "PARTIALLY_REFUNDED", ("unpaid", False)), ("APPROVED", "FULLY_REFUNDED", ("refunded", False)),
    ("CANCELED", "NOT_PAID", ("unpaid", True)), ("INITIALIZED", "PAID", ("unpaid", False)),
])
def test_status_and_payment_status_map(status, payment, expected):
    order = ADAPTER.map_order(STORE, {**documented_order(), "status": status, "paymentStatus": payment}).order
    assert (order.payment_status, order.cancelled) == expected


def test_buyer_text_prefers_the_fields_the_store_names():
    raw = documented_order()
    fields = {"Gift note": "Hi", "Engraving": "For Ada"}
    raw["lineItems"][0]["catalogReference"]["options"]["customTextFields"] = fields
    assert ADAPTER.map_order(STORE, raw).order.line_items[0].buyer_personalization == "For Ada"
    unnamed = STORE.model_copy(update={"buyer_text_keys": ["Name on mug"]})
    assert ADAPTER.map_order(unnamed, raw).order.line_items[0].buyer_personalization == "Hi\nFor Ada"


def test_address_falls_back_to_street_parts_and_is_absent_for_pickup():
    raw = documented_order()
    raw["shippingInfo"]["logistics"]["shippingDestination"]["address"] = {
        "country": "DE", "subdivision": "DE-BE", "city": "Berlin",
        "streetAddress": {"number": "5", "name": "Unter den Linden", "apt": "2"}}
    ship = ADAPTER.map_order(STORE, raw).order.shipping_address
    assert (ship.line1, ship.line2, ship.region) == ("5 Unter den Linden", "2", "BE")
    raw["shippingInfo"] = {"logistics": {"pickupDetails": {"address": {"city": "Berlin"}}}}
    assert ADAPTER.map_order(STORE, raw).order.shipping_address is None


@pytest.mark.parametrize("broken", [
    {"id": "x"}, {**documented_order(), "lineItems": []}, {**documented_order(), "createdDate": None},
    {**documented_order(), "priceSummary": {"total": money("lots")}},
    {**documented_order(), "lineItems": [{"id": "1", "quantity": 1}]},
])
def test_an_order_we_cannot_read_says_why(broken):
    with pytest.raises(UnmappableOrderError):
        ADAPTER.map_order(STORE, broken)


# --- webhooks ----------------------------------------------------------------


@pytest.mark.parametrize(("slug", "carrier"), [
    ("created", lambda o: {"createdEvent": {"entity": o}}),
    ("updated", lambda o: {"updatedEvent": {"currentEntity": o}}),
    ("approved", lambda o: {"actionEvent": {"body": {"order": o}}}),
    ("payment_status_updated", lambda o: {"actionEvent": {"body": {"order": o}}}),
])
def test_a_signed_order_event_carries_the_full_order(slug, carrier):
    body = delivery(event(slug, **carrier(documented_order())))
    ADAPTER.verify_webhook(STORE, NO_HEADERS, body)
    assert ADAPTER.read_webhook(STORE, NO_HEADERS, body) == FullOrder(documented_order())


def _hs256_with_the_public_key() -> bytes:
    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")
    signing = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(json.dumps({"data": "{}"}).encode())
    return signing + b"." + b64(hmac.new(PUBLIC_PEM.encode(), signing, hashlib.sha256).digest())


def _swap_payload(body: bytes) -> bytes:
    header, _, signature = body.split(b".")
    other = delivery(event("created", createdEvent={"entity": {**documented_order(), "id": "forged"}})).split(b".")[1]
    return b".".join([header, other, signature])


@pytest.mark.parametrize("forge", [
    lambda: delivery(event("created"), key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    lambda: jwt.encode({"data": "{}"}, None, algorithm="none").encode(),
    _hs256_with_the_public_key,
    lambda: token({"data": "{}", "exp": int(time.time()) - 3600}),
    lambda: _swap_payload(delivery(event("created"))),
    lambda: delivery(event("created")) + b"x",
    lambda: b'{"data": "not a jwt"}',
])
def test_forged_expired_or_tampered_tokens_are_refused(forge):
    body = forge()
    with pytest.raises(InvalidSignatureError):
        ADAPTER.verify_webhook(STORE, NO_HEADERS, body)
    with pytest.raises(InvalidSignatureError):  # reading never trusts an unverified body either
        ADAPTER.read_webhook(STORE, NO_HEADERS, body)


def test_the_key_may_be_given_without_pem_armour_and_must_be_given():
    def keyed(secret: str | None) -> StoreConfig:
        return STORE.model_copy(update={"webhook_secret": secret})

    bare = "".join(line for line in PUBLIC_PEM.splitlines() if "-----" not in line)
    ADAPTER.verify_webhook(keyed(bare), NO_HEADERS, delivery(event("created")))
    with pytest.raises(InvalidSignatureError, match="no webhook_secret"):
        ADAPTER.verify_webhook(keyed(None), NO_HEADERS, delivery(event("created")))
    with pytest.raises(InvalidSignatureError):
        ADAPTER.verify_webhook(keyed("not a key"), NO_HEADERS, delivery(event("created")))


def test_events_without_the_order_name_it_and_other_entities_are_ignored():
    canceled = delivery(event("canceled", actionEvent={}))
    assert ADAPTER.read_webhook(STORE, NO_HEADERS, canceled) == OrderRef("6f759095")
    other = {**event("created"), "entityFqdn": "wix.stores.v1.product"}
    assert isinstance(ADAPTER.read_webhook(STORE, NO_HEADERS, delivery(other)), NothingToDo)


def nested(inner: object) -> dict:
    return {"data": json.dumps({"data": json.dumps(inner)})}


@pytest.mark.parametrize("claims", [
    {"data": {"eventType": "x"}}, {"data": "not json"}, {"data": json.dumps({"data": "{"})},
    nested(["a"]), nested({"unexpected": True}), nested({**event("created"), "entityId": None}),
    nested(event("created", createdEvent={"entity": "an order"})),
])
def test_a_verified_body_with_broken_nesting_is_unreadable(claims):
    with pytest.raises(UnreadableWebhookError):
        ADAPTER.read_webhook(STORE, NO_HEADERS, token(claims))


# --- the API conversation ----------------------------------------------------


def client() -> PlatformClient:
    return PlatformClient("wix", BASE, headers=ADAPTER.headers(STORE), backoff_initial_s=0.01, backoff_max_s=0.02)


def page(orders: list, cursor: str | None) -> httpx.Response:
    cursors = {"next": cursor} if cursor else {}
    meta = {"count": len(orders), "cursors": cursors, "hasNext": bool(cursor)}
    return httpx.Response(200, json={"orders": orders, "pagingMetadata": meta})


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_the_poll_searches_by_updated_date_oldest_first_and_follows_the_cursor(respx_mock):
    first, second = documented_order(), {**documented_order(), "id": "second"}
    route = respx_mock.post(f"{BASE}/ecom/v1/orders/search").mock(
        side_effect=[page([first], "CUR1"), page([second], None)])
    api = client()
    pages = [p async for p in ADAPTER.list_modified(api, STORE, datetime(2023, 11, 10, 8, 0, tzinfo=timezone.utc))]
    await api.aclose()
    assert [[o["id"] for o in p] for p in pages] == [[first["id"]], ["second"]]
    assert json.loads(route.calls[0].request.content) == {"search": {
        "filter": {"updatedDate": {"$gte": "2023-11-10T08:00:00.000Z"}},
        "sort": [{"fieldName": "updatedDate", "order": "ASC"}], "cursorPaging": {"limit": 100}}}
    # The cursor holds the filter and sort; Wix refuses them repeated beside it.
    assert json.loads(route.calls[1].request.content) == {
        "search": {"cursorPaging": {"limit": 100, "cursor": "CUR1"}}}
    sent = route.calls[0].request.headers
    assert (sent["authorization"], sent["wix-site-id"]) == ("IST.key-1", "site-1")


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_a_429_is_waited_out_and_the_same_page_asked_again(respx_mock):
    route = respx_mock.post(f"{BASE}/ecom/v1/orders/search").mock(side_effect=[
        httpx.Response(429, json={"message": "Too Many Requests"}, headers={"Retry-After": "0"}),
        page([documented_order()], None)])
    api = client()
    pages = [p async for p in ADAPTER.list_modified(api, STORE, datetime(2023, 1, 1, tzinfo=timezone.utc))]
    await api.aclose()
    assert len(pages) == 1 and route.call_count == 2
    assert route.calls[0].request.content == route.calls[1].request.content


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_one_order_is_fetched_from_its_envelope_and_a_missing_one_is_an_error(respx_mock):
    order = documented_order()
    respx_mock.get(f"{BASE}/ecom/v1/orders/{order['id']}").mock(
        return_value=httpx.Response(200, json={"order": order}))
    respx_mock.get(f"{BASE}/ecom/v1/orders/gone").mock(return_value=httpx.Response(
        404, json={"message": "not found", "details": {"applicationError": {"code": "ORDER_NOT_FOUND"}}}))
    api = client()
    assert await ADAPTER.fetch_order(api, STORE, order["id"]) == order
    with pytest.raises(PlatformError):
        await ADAPTER.fetch_order(api, STORE, "gone")
    await api.aclose()


# --- the sandbox speaks the same dialect ---------------------------------------


async def test_the_sandbox_pages_past_100_hides_unpaid_online_orders_and_signs_what_we_read():
    from sandboxes.base import make_sandbox_app
    from sandboxes.wix import SANDBOX
    from tests.connectors.stores.wix import STORE as E2E

    store = STORE.model_copy(update={"credentials": E2E["credentials"], "webhook_secret": E2E["webhook_secret"]})
    app = make_sandbox_app(SANDBOX, store)
    state = app.state.sandbox
    for paid in [True] * 120 + [False]:
        raw = SANDBOX.new_order(state, OrderSpec(paid=paid))
        state.orders[raw["id"]] = raw
    api = PlatformClient("wix", BASE, headers=ADAPTER.headers(store), transport=httpx.ASGITransport(app))
    pages = [p async for p in ADAPTER.list_modified(api, store, datetime(2000, 1, 1, tzinfo=timezone.utc))]
    await api.aclose()
    transport, repeated = httpx.ASGITransport(app), {"search": {"filter": {}, "cursorPaging": {"cursor": "x"}}}
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=ADAPTER.headers(store)) as http:
        refused = await http.post("/ecom/v1/orders/search", json=repeated)
    assert [len(p) for p in pages] == [100, 22]  # 120 placed + 2 seeded; the INITIALIZED one is not searchable
    assert refused.status_code == 400
    newest = pages[-1][-1]
    headers, body = SANDBOX.webhook(state, newest, "created", thin=False)
    assert ADAPTER.read_webhook(store, httpx.Headers(headers), body) == FullOrder(newest)
    assert ADAPTER.map_order(store, newest).order.line_items[0].unit_price == "14.50"
