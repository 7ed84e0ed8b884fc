"""Squarespace: mapping of the documented JSON, webhook signatures, the API conversation, the sandbox's rules.

The order is the documented one (sandboxes.squarespace.documented_order): its leading fields are
samples/squarespace/order_retrieve_partial.json (developers.squarespace.com/commerce-apis/
retrieve-specific-order), the rest is that page's response example as copied in public repos (lineItems
with customizations and variantOptions, top-level money totals, fulfillmentStatus, refundedTotal; see
connectors/squarespace/mapping.py). Webhook bodies are samples/squarespace/webhook_order_*.json
(.../webhooks/events/order-create, order-update); the signature rule is .../webhooks/verifying-notifications.
API responses are served at the httpx transport by respx; unmatched requests and uncalled routes fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import respx

from connectors.client import PlatformClient
from connectors.errors import InvalidSignatureError, UnmappableOrderError, UnreadableWebhookError
from connectors.platform import NothingToDo, OrderRef
from connectors.squarespace import ADAPTER, client
from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.squarespace import SANDBOX, documented_order

SAMPLES = Path(__file__).parents[2] / "sandboxes" / "samples" / "squarespace"
BASE = "https://api.squarespace.com"
SECRET = "f3f9b981c78e7a6187e42853f6ce2804177e98206164779423b02dec981acd6b"  # hex, like the docs' example
STORE = StoreConfig(platform="squarespace", store_id="sq", merchant_email="m@example.com", base_url=BASE,
                    credentials={"api_key": "key-1"}, webhook_secret=SECRET)


def mapped(raw: dict, store: StoreConfig = STORE):
    return ADAPTER.map_order(store, raw).order


def usd(value: str) -> dict:
    return {"value": value, "currency": "USD"}


# --- mapping -----------------------------------------------------------------


def test_the_documented_order_maps_field_by_field():
    result = ADAPTER.map_order(STORE, documented_order())
    order = result.order
    assert order.order_key == "squarespace:sq:585d498fdee9f31a60284a37" and order.order_number == "3"
    assert order.placed_at == datetime(2016, 12, 23, 15, 58, 7, 187000, tzinfo=timezone.utc) == result.modified_at
    assert (order.payment_status, order.cancelled, order.is_test) == ("paid", False, True)
    assert (order.currency, order.total) == ("USD", "57.70")
    assert (order.customer.name, order.customer.email) == ("Bob Loblaw", "foo@example.com")
    assert (order.shipping_address.line1, order.shipping_address.postal_code, order.shipping_address.country) == (
        "459 Broadway", "10003", "US")
    (line,) = order.line_items
    assert (line.line_id, line.product_id, line.sku) == (
        "585d4975dee9f31a60284a16", "565c8f3da7c8a3cf71d5fd0a", "SQ3381024")
    assert line.variant_id == "88c16ee4-547b-445e-a392-bded9991ae30"
    assert (line.quantity, line.unit_price, line.title) == (1, "55.00", "Product (Size: Large, Color: Black)")
    assert line.buyer_personalization == "Shirt Emblem Location: Middle Chest"  # no label matches: all answers


@pytest.mark.parametrize(("fulfillment", "refunded", "grand", "payment", "cancelled"), [
    ("PENDING", "0.00", "57.70", "paid", False),
    ("FULFILLED", "0.00", "57.70", "paid", False),
    ("CANCELED", "0.00", "57.70", "paid", True),
    ("PENDING", "10.00", "57.70", "paid", False),  # a partial refund: still shipped
    ("PENDING", "57.70", "57.70", "refunded", False),
    ("CANCELED", "57.70", "57.70", "refunded", True),
    ("PENDING", "0.00", "0.00", "paid", False),  # a free order is not a refunded one
])
def test_fulfillment_and_refunds_map_to_cancellation_and_payment(fulfillment, refunded, grand, payment, cancelled):
    raw = {**documented_order(), "fulfillmentStatus": fulfillment, "refundedTotal": usd(refunded),
           "grandTotal": usd(grand)}
    order = mapped(raw)
    assert (order.payment_status, order.cancelled) == (payment, cancelled)


def test_buyer_text_is_the_answers_labelled_as_the_store_says_else_every_answer():
    raw = documented_order()
    answers = raw["lineItems"][0]["customizations"] = [{"label": "Gift wrap", "value": "Yes"}]
    answers.append({"label": "Engraving", "value": "Ada"})
    assert mapped(raw).line_items[0].buyer_personalization == "Ada"
    names = STORE.model_copy(update={"buyer_text_keys": ["name on mug"]})
    raw["lineItems"][0]["customizations"] = [{"label": "Name on Mug", "value": "Grace"},
                                             {"label": "Font", "value": "Serif"}]
    assert mapped(raw, names).line_items[0].buyer_personalization == "Grace"
    assert mapped(raw).line_items[0].buyer_personalization == "Name on Mug: Grace\nFont: Serif"
    for empty in (None, [], [{"label": "Engraving", "value": ""}]):
        raw["lineItems"][0]["customizations"] = empty
        assert mapped(raw).line_items[0].buyer_personalization is None


def test_nulls_the_docs_allow_are_read():
    """responses-error-handling: fields may be null and empty arrays may be null."""
    raw = documented_order()
    raw["lineItems"][0].update(variantOptions=None, customizations=None, variantId=None, sku=None)
    raw["shippingAddress"] = {k: None for k in raw["shippingAddress"]}  # a download: nowhere to ship
    raw["billingAddress"].update(firstName="", lastName="")
    raw["orderNumber"] = 1042  # a third-party schema says integer; the docs say string
    order = mapped(raw)
    (line,) = order.line_items
    assert (line.variant_id, line.sku, line.title, line.buyer_personalization) == (None, None, "Product", None)
    assert order.shipping_address is None and order.customer.name == "" and order.order_number == "1042"


def test_billing_without_a_name_falls_back_to_the_shipping_name():
    raw = documented_order()
    raw["billingAddress"].update(firstName="", lastName="")
    raw["shippingAddress"].update(firstName="Grace", lastName="Hopper")
    assert mapped(raw).customer.name == "Grace Hopper"


def test_money_keeps_the_currency_precision():
    raw = {**documented_order(), "grandTotal": {"value": "5700", "currency": "JPY"}}
    raw["lineItems"][0]["unitPricePaid"] = {"value": "5500", "currency": "JPY"}
    order = mapped(raw)
    assert (order.currency, order.total, order.line_items[0].unit_price) == ("JPY", "5700", "5500")


@pytest.mark.parametrize("broken", [
    {"id": "1"},
    {**documented_order(), "lineItems": []},
    {**documented_order(), "lineItems": None},
    {**documented_order(), "grandTotal": usd("twelve")},
    {**documented_order(), "grandTotal": usd("NaN")},
    {**documented_order(), "createdOn": None},
    {**documented_order(), "createdOn": "yesterday"},
    {**documented_order(), "lineItems": [{"id": "l1", "productName": "Mug", "quantity": 1}]},  # no unitPricePaid
])
def test_an_order_we_cannot_read_says_why(broken):
    with pytest.raises(UnmappableOrderError):
        mapped(broken)


# --- webhooks ----------------------------------------------------------------


def hex_signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(bytes.fromhex(secret), body, hashlib.sha256).hexdigest()  # computed here, independently


def headers(signature: str) -> httpx.Headers:
    return httpx.Headers({"User-Agent": "Squarespace/1.0", "Content-Type": "application/json",
                          "Squarespace-Signature": signature})


@pytest.mark.parametrize("encode", [
    lambda body: hex_signature(body),
    lambda body: hex_signature(body).upper(),
    lambda body: base64.b64encode(bytes.fromhex(hex_signature(body))).decode(),
])
def test_a_signature_in_hex_or_base64_is_accepted_and_the_order_is_fetched(encode):
    body = (SAMPLES / "webhook_order_create.json").read_bytes()
    ADAPTER.verify_webhook(STORE, headers(encode(body)), body)
    assert ADAPTER.read_webhook(STORE, headers(encode(body)), body) == OrderRef("5f3c39ce69e11e796f19990e")


@pytest.mark.parametrize(("body_sent", "signature"), [
    (b'{"tampered": 1}', hex_signature((SAMPLES / "webhook_order_create.json").read_bytes())),
    ((SAMPLES / "webhook_order_create.json").read_bytes(), hex_signature(
        (SAMPLES / "webhook_order_create.json").read_bytes(), secret="00" * 32)),
    ((SAMPLES / "webhook_order_create.json").read_bytes(), "not a signature"),
    ((SAMPLES / "webhook_order_create.json").read_bytes(), ""),
])
def test_tampered_wrongly_keyed_malformed_or_missing_signatures_are_refused(body_sent, signature):
    with pytest.raises(InvalidSignatureError):
        ADAPTER.verify_webhook(STORE, headers(signature), body_sent)


def test_a_store_secret_that_is_not_hex_or_missing_refuses_every_webhook():
    body = b"{}"
    with pytest.raises(InvalidSignatureError, match="not hex"):
        ADAPTER.verify_webhook(STORE.model_copy(update={"webhook_secret": "not-hex"}), headers("00"), body)
    with pytest.raises(InvalidSignatureError, match="no webhook_secret"):
        ADAPTER.verify_webhook(STORE.model_copy(update={"webhook_secret": None}), headers(hex_signature(body)), body)


def test_verification_reads_only_bytes_so_it_comes_before_any_parsing():
    body = b"\xff not json"
    ADAPTER.verify_webhook(STORE, headers(hex_signature(body)), body)
    with pytest.raises(UnreadableWebhookError):
        ADAPTER.read_webhook(STORE, headers(hex_signature(body)), body)


def test_topics_read_as_order_references_or_nothing():
    update = (SAMPLES / "webhook_order_update.json").read_bytes()
    assert ADAPTER.read_webhook(STORE, headers(""), update) == OrderRef("5f3c39ce69e11e796f19990e")
    uninstall = json.dumps({"id": "n1", "topic": "extension.uninstall", "data": {}}).encode()
    assert isinstance(ADAPTER.read_webhook(STORE, headers(""), uninstall), NothingToDo)
    for unreadable in (b'{"unexpected": true}', b'{"topic": "order.create", "data": {}}', b"[1]"):
        with pytest.raises(UnreadableWebhookError):
            ADAPTER.read_webhook(STORE, headers(""), unreadable)


# --- the API conversation ----------------------------------------------------


def api() -> PlatformClient:
    return PlatformClient("squarespace", BASE, headers=ADAPTER.headers(STORE), rate_limit_wait=ADAPTER.rate_limit_wait,
                          backoff_initial_s=0.01, backoff_max_s=0.02)


def order(order_id: str, modified: str) -> dict:
    return {**documented_order(), "id": order_id, "modifiedOn": modified}


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_the_poll_sends_the_range_first_then_only_the_cursor_and_hands_on_oldest_first(respx_mock):
    route = respx_mock.get(f"{BASE}/1.0/commerce/orders").mock(side_effect=[
        httpx.Response(200, json={"result": [order("b", "2017-01-03T00:00:00.000Z"),
                                             order("a", "2017-01-01T00:00:00Z")],
                                  "pagination": {"hasNextPage": True, "nextPageCursor": "c1",
                                                 "nextPageUrl": f"{BASE}/1.0/commerce/orders?cursor=c1"}}),
        httpx.Response(200, json={"result": [order("c", "2017-01-02T00:00:00.000Z")],
                                  "pagination": {"hasNextPage": False, "nextPageCursor": None, "nextPageUrl": None}}),
    ])
    since = datetime(2016, 12, 31, 12, 0, tzinfo=timezone.utc)
    now = datetime(2017, 1, 5, 8, 30, 15, 123456, tzinfo=timezone.utc)
    conversation = api()
    pages = [page async for page in client.list_modified(conversation, STORE, since, now=lambda: now)]
    await conversation.aclose()
    assert [[o["id"] for o in page] for page in pages] == [["a", "c", "b"]]
    first, second = (call.request for call in route.calls)
    assert dict(first.url.params) == {"modifiedAfter": "2016-12-31T12:00:00.000Z",
                                      "modifiedBefore": "2017-01-05T08:30:15.123Z"}
    assert dict(second.url.params) == {"cursor": "c1"}
    for request in (first, second):
        assert request.headers["authorization"] == "Bearer key-1"
        assert request.headers["user-agent"] == "personalize-connector/0.1"


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_a_long_window_is_handed_on_in_pages_of_fifty(respx_mock):
    result = [order(f"o{i:03}", f"2017-01-01T00:{i // 60:02}:{i % 60:02}Z") for i in range(120)]
    respx_mock.get(f"{BASE}/1.0/commerce/orders").mock(return_value=httpx.Response(200, json={
        "result": result[::-1], "pagination": {"hasNextPage": False, "nextPageCursor": None, "nextPageUrl": None}}))
    conversation = api()
    since = datetime(2017, 1, 1, tzinfo=timezone.utc)
    pages = [page async for page in ADAPTER.list_modified(conversation, STORE, since)]
    await conversation.aclose()
    assert [len(page) for page in pages] == [50, 50, 20]
    assert [o["id"] for page in pages for o in page] == [o["id"] for o in result]


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_one_order_is_fetched_by_its_id_after_riding_out_a_429(respx_mock):
    route = respx_mock.get(f"{BASE}/1.0/commerce/orders/5f3c39ce69e11e796f19990e").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "0.05"}), httpx.Response(200, json=documented_order())])
    conversation = api()
    assert (await ADAPTER.fetch_order(conversation, STORE, "5f3c39ce69e11e796f19990e"))["orderNumber"] == "3"
    await conversation.aclose()
    assert route.call_count == 2 and route.calls[1].request.headers["user-agent"] == "personalize-connector/0.1"


def test_a_429_without_retry_after_waits_out_the_minute_of_cool_down():
    assert ADAPTER.rate_limit_wait(httpx.Response(429)) == 60.0
    assert ADAPTER.rate_limit_wait(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0


# --- the sandbox keeps Squarespace's rules -------------------------------------


async def sandbox() -> httpx.AsyncClient:
    app = make_sandbox_app(SANDBOX, STORE)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox",
                             headers=ADAPTER.headers(STORE))


async def test_the_sandbox_refuses_a_cursor_with_dates_one_date_alone_or_no_user_agent():
    async with await sandbox() as http:
        dates = {"modifiedAfter": "2016-01-01T00:00:00Z", "modifiedBefore": "2030-01-01T00:00:00Z"}
        assert (await http.get("/1.0/commerce/orders", params={**dates, "cursor": "x"})).status_code == 400
        one_date = {"modifiedAfter": dates["modifiedAfter"]}
        assert (await http.get("/1.0/commerce/orders", params=one_date)).status_code == 400
        assert (await http.get("/1.0/commerce/orders", params=dates)).status_code == 200
        request = http.build_request("GET", "/1.0/commerce/orders", params=dates)
        del request.headers["user-agent"]
        assert (await http.send(request)).status_code == 401


async def test_the_sandbox_pages_fifty_at_a_time_newest_first_by_cursor():
    async with await sandbox() as http:
        for _ in range(55):
            (await http.post("/_sandbox/orders", json={"webhook": False})).raise_for_status()
        params = {"modifiedAfter": "2016-01-01T00:00:00Z", "modifiedBefore": "2999-01-01T00:00:00Z"}
        first = (await http.get("/1.0/commerce/orders", params=params)).json()
        cursor = first["pagination"]["nextPageCursor"]
        second = (await http.get("/1.0/commerce/orders", params={"cursor": cursor})).json()
    assert (len(first["result"]), len(second["result"])) == (50, 7)  # 55 placed + 2 documented
    assert first["pagination"]["hasNextPage"] and not second["pagination"]["hasNextPage"]
    stamps = [o["modifiedOn"] for o in first["result"] + second["result"]]
    assert stamps == sorted(stamps, reverse=True)


async def test_the_sandbox_has_no_unpaid_orders():
    async with await sandbox() as http:
        assert (await http.post("/_sandbox/orders", json={"paid": False})).status_code == 422
