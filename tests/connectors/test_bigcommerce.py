"""BigCommerce: mapping of the documented JSON, Standard Webhooks signatures, and the API conversation.

Responses are the platform's documented examples, served at the httpx
transport by respx; a request that matches no recorded route fails the test,
and so does a recorded route that was never called.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import respx
import standardwebhooks.webhooks

from connectors.bigcommerce import ADAPTER, client, signature
from connectors.client import PlatformClient
from connectors.errors import InvalidSignatureError, PlatformError, UnmappableOrderError, UnreadableWebhookError
from connectors.platform import NothingToDo, OrderRef
from plumbing.config import StoreConfig
from sandboxes.base import ItemSpec, OrderSpec, SandboxState
from sandboxes.bigcommerce import SANDBOX

SAMPLES = Path(__file__).parents[2] / "sandboxes" / "samples" / "bigcommerce"
BASE = "https://api.bigcommerce.com/stores/abc123"
SECRET = "bc-client-secret-for-tests"
STORE = StoreConfig(platform="bigcommerce", store_id="bc", merchant_email="m@example.com", base_url=BASE,
                    credentials={"access_token": "tok_1"}, webhook_secret=SECRET)


def sample(name: str):
    return json.loads((SAMPLES / name).read_text())


def whole(order: dict) -> dict:
    """An order as the client hands it over: its products fetched into `products`."""
    return {**order, "products": sample("order_products_v2.json")}


def signed(body: bytes, secret: str = SECRET, timestamp: int | None = None, msg_id: str = "msg_1") -> dict[str, str]:
    """Standard Webhooks, computed here independently of the code: HMAC-SHA256(secret, id.ts.body), base64."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode()}


# --- mapping -----------------------------------------------------------------


def test_the_documented_order_maps_field_by_field():
    mapped = ADAPTER.map_order(STORE, whole(sample("order_get_v2.json")))
    order = mapped.order
    assert order.order_key == "bigcommerce:bc:218" and order.order_number == "218"
    assert order.placed_at == datetime(2019, 3, 5, 21, 40, 11, tzinfo=timezone.utc)
    assert mapped.modified_at == datetime(2019, 3, 11, 15, 17, 25, tzinfo=timezone.utc)
    assert (order.payment_status, order.cancelled, order.is_test) == ("unpaid", False, False)  # Awaiting Payment
    assert (order.currency, order.total) == ("USD", "69.84")
    assert (order.customer.name, order.customer.email) == ("Jane Doe", "janedoe@example.com")
    assert order.shipping_address is None  # only a resource link in the order
    towel, brewer = order.line_items
    assert (towel.line_id, towel.product_id, towel.variant_id, towel.sku) == ("65", "77", None, "S-ORAN")
    assert (towel.title, towel.quantity, towel.unit_price) == ("Fog Linen Chambray Towel - Beige Stripe", 1, "65.23")
    assert towel.buyer_personalization == "Text Field"  # the sample's "Text field" option; size, colour, gift are not
    assert (brewer.line_id, brewer.product_id, brewer.sku, brewer.unit_price) == ("66", "86", "ABS", "0.00")
    assert brewer.buyer_personalization is None


def test_every_order_of_the_documented_list_maps():
    for raw in sample("orders_list_v2.json"):
        order = ADAPTER.map_order(STORE, whole(raw)).order
        assert order.platform_order_id == str(raw["id"]) and order.payment_status == "paid"  # Awaiting Fulfillment


@pytest.mark.parametrize(("status_id", "payment", "cancelled"), [
    (0, "unpaid", False), (1, "unpaid", False), (2, "paid", False), (3, "paid", False), (4, "refunded", False),
    (5, "unpaid", True), (6, "unpaid", True), (7, "unpaid", False), (8, "paid", False), (9, "paid", False),
    (10, "paid", False), (11, "paid", False), (12, "unpaid", False), (13, "paid", False), (14, "paid", False),
])
def test_every_documented_status_maps_to_payment_and_cancellation(status_id, payment, cancelled):
    assert {s["id"] for s in sample("order_statuses_v2.json")} == set(range(15))
    raw = whole({**sample("order_get_v2.json"), "status_id": status_id})  # payment_status "authorized"
    order = ADAPTER.map_order(STORE, raw).order
    assert (order.payment_status, order.cancelled) == (payment, cancelled)


@pytest.mark.parametrize(("status_id", "payment_field", "payment"), [
    (7, "captured", "paid"), (1, "paid", "paid"), (12, "captured", "paid"), (7, "authorized", "unpaid"),
    (0, "captured", "unpaid"), (6, "captured", "unpaid"), (11, "refunded", "refunded"),
    (14, "partially refunded", "paid"),
])
def test_the_payment_field_decides_where_the_status_does_not(status_id, payment_field, payment):
    raw = whole({**sample("order_get_v2.json"), "status_id": status_id, "payment_status": payment_field})
    assert ADAPTER.map_order(STORE, raw).order.payment_status == payment


def test_buyer_text_comes_from_text_options_and_options_named_as_the_store_says():
    raw = whole(sample("order_get_v2.json"))
    rows = raw["products"] = [dict(row) for row in raw["products"]]
    rows[0]["product_options"] = [
        {"display_name": "Message", "display_value": "Happy\nbirthday", "type": "Multi-line text field"},
        {"display_name": "Engraving", "display_value": "Gold script", "type": "Multiple choice"},
        {"display_name": "Personalization", "display_value": "photo.png", "value": '{"f":1}', "type": "File Upload"},
    ]
    rows[1]["product_options"] = [{"display_name": "Name on mug", "display_value": "Ada", "type": "Multiple choice"}]
    lines = ADAPTER.map_order(STORE, raw).order.line_items
    assert [line.buyer_personalization for line in lines] == ["Happy\nbirthday\nGold script", None]
    only_names = STORE.model_copy(update={"buyer_text_keys": ["Name on mug"]})
    assert [line.buyer_personalization for line in ADAPTER.map_order(only_names, raw).order.line_items] == [
        "Happy\nbirthday", "Ada"]


@pytest.mark.parametrize(("extra", "flag"), [({"is_deleted": True}, "cancelled"),  # archived
                                              ({"staff_notes": "Personalize_test - ignore"}, "is_test")])
def test_archived_orders_cancel_and_staff_notes_mark_test_orders(extra, flag):
    assert getattr(ADAPTER.map_order(STORE, whole({**sample("orders_list_v2.json")[0], **extra})).order, flag)


def test_an_embedded_shipping_address_is_read_and_variants_and_zones_are_kept():
    raw = whole({**sample("order_get_v2.json"), "date_created": "Tue, 05 Mar 2019 22:40:11 +0100"})
    raw["shipping_addresses"] = [{"first_name": "Trish", "last_name": "Smith", "street_1": "666 Sussex St",
                                  "city": "Austin", "state": "Texas", "zip": "78751", "country_iso2": "US"}]
    raw["products"] = [{**raw["products"][0], "variant_id": 12}]
    order = ADAPTER.map_order(STORE, raw).order
    assert order.placed_at == datetime(2019, 3, 5, 21, 40, 11, tzinfo=timezone.utc)
    assert (order.shipping_address.name, order.shipping_address.postal_code) == ("Trish Smith", "78751")
    assert order.line_items[0].variant_id == "12"


@pytest.mark.parametrize("broken", [
    {"id": 1},
    sample("order_get_v2.json"),  # products not fetched: only the resource link
    whole({**sample("order_get_v2.json"), "total_inc_tax": "twelve"}),
    whole({**sample("order_get_v2.json"), "date_created": "yesterday"}),
    {**sample("order_get_v2.json"), "products": []},
])
def test_an_order_we_cannot_read_says_why(broken):
    with pytest.raises(UnmappableOrderError):
        ADAPTER.map_order(STORE, broken)


# --- webhooks ----------------------------------------------------------------


def test_the_standard_webhooks_reference_vector(monkeypatch):
    key, msg_id, timestamp, body = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, \
        b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signature.sign(key, msg_id, timestamp, body) == expected
    assert base64.b64decode(signature.key_for(SECRET)) == SECRET.encode()  # BigCommerce's key: base64(secret)

    class Then(datetime):  # the library's clock, at the vector's moment
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206
            return datetime.fromtimestamp(timestamp + 10, tz=tz)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", Then)
    headers = httpx.Headers({"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": expected})
    signature.verify_with_key(key, headers, body)
    with pytest.raises(InvalidSignatureError):
        signature.verify_with_key(key, headers, body.replace(b"2432", b"2433"))


def test_a_correctly_signed_documented_webhook_is_read_as_an_order_reference():
    body = (SAMPLES / "webhook_store_order_created.json").read_bytes()
    headers = httpx.Headers(signed(body))
    ADAPTER.verify_webhook(STORE, headers, body)
    assert ADAPTER.read_webhook(STORE, headers, body) == OrderRef("250")


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda body, headers: (body + b" ", headers), id="tampered body"),
    pytest.param(lambda body, headers: (body, signed(body, secret="someone-elses-secret")), id="wrong secret"),
    pytest.param(lambda body, headers: (body, signed(body, timestamp=int(time.time()) - 600)), id="stale"),
    pytest.param(lambda body, headers: (body, signed(body, timestamp=int(time.time()) + 600)), id="from the future"),
    pytest.param(lambda body, headers: (body, {**headers, "webhook-id": "msg_2"}), id="other message id"),
    pytest.param(lambda body, headers: (body, {k: v for k, v in headers.items() if k != "webhook-signature"}),
                 id="unsigned"),
    pytest.param(lambda body, headers: (body, {**headers, "webhook-signature": "garbage"}), id="no version"),
    pytest.param(lambda body, headers: (body, {**headers, "webhook-signature": "v1,not base64!"}), id="not base64"),
    pytest.param(lambda body, headers: (body, {**headers, "webhook-timestamp": "soon"}), id="bad timestamp"),
    pytest.param(lambda body, headers: (b"\xff" + body, signed(b"\xff" + body)), id="not UTF-8"),
])
def test_tampered_missing_stale_or_wrong_signatures_are_refused(mutate):
    body = (SAMPLES / "webhook_store_order_statusUpdated.json").read_bytes()
    body, headers = mutate(body, signed(body))
    with pytest.raises(InvalidSignatureError):
        ADAPTER.verify_webhook(STORE, httpx.Headers(headers), body)


def test_a_store_without_a_secret_refuses_every_webhook():
    body = b"{}"
    with pytest.raises(InvalidSignatureError, match="no webhook_secret"):
        ADAPTER.verify_webhook(STORE.model_copy(update={"webhook_secret": None}), httpx.Headers(signed(body)), body)


@pytest.mark.parametrize("name", ["created", "updated", "statusUpdated", "archived", "refund_created"])
def test_every_documented_order_scope_names_the_order(name):
    body = (SAMPLES / f"webhook_store_order_{name}.json").read_bytes()
    assert ADAPTER.read_webhook(STORE, httpx.Headers({}), body) == OrderRef("250")


@pytest.mark.parametrize(("scope", "data", "note"), [
    ("store/order/transaction/updated", {"type": "transaction", "order_id": 250}, OrderRef("250")),
    ("store/order/message/created", {"type": "order", "id": 250}, None),
    ("store/product/updated", {"type": "product", "id": 205}, None),
])
def test_transactions_name_their_order_and_other_scopes_change_nothing(scope, data, note):
    read = ADAPTER.read_webhook(STORE, httpx.Headers({}), json.dumps({"scope": scope, "data": data}).encode())
    assert read == note if note else isinstance(read, NothingToDo)


@pytest.mark.parametrize("body", [b"<html>", b"[1]", b'{"unexpected": true}',
                                  b'{"scope": "store/order/created", "data": {"type": "order"}}',
                                  b'{"scope": "store/order/created", "data": {"type": "order", "id": "x"}}'])
def test_a_verified_body_we_cannot_read_says_so(body):
    with pytest.raises(UnreadableWebhookError):
        ADAPTER.read_webhook(STORE, httpx.Headers({}), body)


# --- the sandbox's webhooks, checked independently -----------------------------------


def test_the_sandbox_signs_thin_webhooks_the_standard_webhooks_way():
    state = SandboxState(store=STORE)
    raw = SANDBOX.new_order(state, OrderSpec(items=[ItemSpec(buyer_text="Ada")]))
    headers, body = SANDBOX.webhook(state, raw, "created", thin=False)
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    digest = hmac.new(SECRET.encode(), content, hashlib.sha256).digest()  # key = base64-decode(base64(secret))
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
    payload = json.loads(body)
    assert payload["scope"] == "store/order/created" and payload["data"] == {"type": "order", "id": raw["id"]}
    ADAPTER.verify_webhook(STORE, httpx.Headers(headers), body)


def test_sandbox_orders_map_as_placed_and_a_repeated_event_keeps_its_hash():
    state = SandboxState(store=STORE)
    raw = SANDBOX.new_order(state, OrderSpec(items=[ItemSpec(quantity=2, buyer_text="Ada")], test=True, paid=False))
    order = ADAPTER.map_order(STORE, {**raw, "products": raw["_products"]}).order
    assert (order.payment_status, order.is_test, order.total) == ("unpaid", True, "41.00")  # 2 x 14.50 + 12 shipping
    assert (order.line_items[0].unit_price, order.line_items[0].buyer_personalization) == ("14.50", "Ada")
    first, again = (json.loads(SANDBOX.webhook(state, raw, "created", thin=True)[1]) for _ in range(2))
    assert first["hash"] == again["hash"] and len(first["hash"]) == 40
    SANDBOX.set_status(state, raw, "paid")
    changed = json.loads(SANDBOX.webhook(state, raw, "updated", thin=True)[1])
    assert changed["scope"] == "store/order/statusUpdated"
    assert changed["data"]["status"] == {"previous_status_id": 7, "new_status_id": 11}


# --- the API conversation ----------------------------------------------------


@pytest.fixture
async def http():
    api = PlatformClient("bigcommerce", BASE, headers=ADAPTER.headers(STORE), rate_limit_wait=ADAPTER.rate_limit_wait,
                         backoff_initial_s=0.01, backoff_max_s=0.02)
    yield api
    await api.aclose()


async def poll(http: PlatformClient, since: datetime) -> list[list[dict]]:
    return [page async for page in ADAPTER.list_modified(http, STORE, since)]


# Shaped after the v2 `orderShippingAddress` schema (first_name … country_iso2); BigCommerce publishes no sample file.
SHIPPING = [{"id": 11, "order_id": 100, "first_name": "Jane", "last_name": "Doe", "company": "", "street_1": "1 Main St",
             "street_2": "Apt 2", "city": "Austin", "zip": "78701", "country": "United States", "country_iso2": "US",
             "state": "Texas", "email": "jane@example.com", "phone": "555-0100", "items_total": 2}]


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_the_poll_asks_modified_since_oldest_first_and_fetches_each_orders_products(respx_mock, http):
    listing = respx_mock.get(f"{BASE}/v2/orders").mock(
        return_value=httpx.Response(200, json=sample("orders_list_v2.json")))
    products = respx_mock.get(f"{BASE}/v2/orders/100/products").mock(
        return_value=httpx.Response(200, json=sample("order_products_v2.json")))
    respx_mock.get(f"{BASE}/v2/orders/100/shipping_addresses").mock(return_value=httpx.Response(200, json=SHIPPING))
    pages = await poll(http, datetime(2018, 12, 5, 20, 0, tzinfo=timezone.utc))
    assert [[o["id"] for o in page] for page in pages] == [[100]]  # one short page: no second request
    assert [row["id"] for row in pages[0][0]["products"]] == [65, 66]
    mapped = ADAPTER.map_order(STORE, pages[0][0]).order
    assert mapped.line_items[0].product_id == "77"
    assert (mapped.shipping_address.line1, mapped.shipping_address.city, mapped.shipping_address.country) == (
        "1 Main St", "Austin", "US")
    params = listing.calls[0].request.url.params
    assert params["min_date_modified"] == "2018-12-05T20:00:00+00:00" and params["sort"] == "date_modified:asc"
    assert (params["limit"], params["page"]) == ("250", "1")
    assert dict(products.calls[0].request.url.params) == {"limit": "250", "page": "1"}
    for call in (*listing.calls, *products.calls):
        assert call.request.headers["x-auth-token"] == "tok_1" and call.request.headers["accept"] == "application/json"


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_full_pages_are_followed_until_an_empty_204(respx_mock, http, monkeypatch):
    monkeypatch.setattr(client, "PAGE_SIZE", 2)
    orders, rows = [sample("orders_list_v2.json")[0], sample("order_get_v2.json")], sample("order_products_v2.json")
    listing = respx_mock.get(f"{BASE}/v2/orders").mock(side_effect=[
        httpx.Response(200, json=orders), httpx.Response(204)])
    first = respx_mock.get(f"{BASE}/v2/orders/100/products").mock(side_effect=[
        httpx.Response(200, json=rows), httpx.Response(204)])
    second = respx_mock.get(f"{BASE}/v2/orders/218/products").mock(return_value=httpx.Response(200, json=rows[:1]))
    respx_mock.get(url__regex=rf"{BASE}/v2/orders/(100|218)/shipping_addresses").mock(return_value=httpx.Response(204))
    pages = await poll(http, datetime(2018, 1, 1, tzinfo=timezone.utc))
    assert [[len(o["products"]) for o in page] for page in pages] == [[2, 1]]
    assert [c.request.url.params["page"] for c in listing.calls] == ["1", "2"]
    assert [c.request.url.params["page"] for c in first.calls] == ["1", "2"] and second.call_count == 1


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_nothing_modified_is_a_204_with_no_body(respx_mock, http):
    respx_mock.get(f"{BASE}/v2/orders").mock(return_value=httpx.Response(204))
    assert await poll(http, datetime.now(timezone.utc)) == []


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_one_order_is_fetched_with_its_products(respx_mock, http):
    respx_mock.get(f"{BASE}/v2/orders/218").mock(return_value=httpx.Response(200, json=sample("order_get_v2.json")))
    respx_mock.get(f"{BASE}/v2/orders/218/products").mock(
        return_value=httpx.Response(200, json=sample("order_products_v2.json")))
    respx_mock.get(f"{BASE}/v2/orders/218/shipping_addresses").mock(return_value=httpx.Response(200, json=SHIPPING))
    raw = await ADAPTER.fetch_order(http, STORE, "218")
    assert ADAPTER.map_order(STORE, raw).order.platform_order_id == "218" and len(raw["products"]) == 2


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_a_429_waits_as_long_as_the_reset_header_says(respx_mock, http):
    limited = httpx.Response(429, headers={"X-Rate-Limit-Time-Reset-Ms": "300", "X-Rate-Limit-Requests-Left": "0",
                                           "X-Rate-Limit-Time-Window-Ms": "30000"})
    route = respx_mock.get(f"{BASE}/v2/orders").mock(side_effect=[limited, httpx.Response(204)])
    assert ADAPTER.rate_limit_wait(limited) == 0.3
    assert ADAPTER.rate_limit_wait(httpx.Response(429)) is None  # platform load: the client backs off
    started = time.monotonic()
    assert await poll(http, datetime.now(timezone.utc)) == []
    assert route.call_count == 2 and time.monotonic() - started >= 0.3


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_answers_that_are_not_a_collection_or_not_found_are_errors(respx_mock, http):
    respx_mock.get(f"{BASE}/v2/orders").mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
    respx_mock.get(f"{BASE}/v2/orders/9").mock(return_value=httpx.Response(404, json=[{"status": 404}]))
    with pytest.raises(PlatformError, match="non-JSON"):
        await poll(http, datetime.now(timezone.utc))
    with pytest.raises(PlatformError) as error:
        await ADAPTER.fetch_order(http, STORE, "9")
    assert error.value.status == 404
