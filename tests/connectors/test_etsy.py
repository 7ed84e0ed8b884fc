"""Etsy: mapping of receipts built to Etsy's OAS, Standard Webhooks signatures, and the API conversation.

Etsy publishes no example receipt, so `receipt()` builds one from the field names and types of its
official OAS (`sandboxes/samples/etsy/oas_shop_receipt_schemas.json`), and a test holds it (and the
sandbox's receipts) to that schema. API responses are served at the httpx transport by respx; a request
matching no route fails the test, and so does a route never called.
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

from connectors.client import PlatformClient
from connectors.errors import InvalidSignatureError, UnmappableOrderError, UnreadableWebhookError
from connectors.etsy import ADAPTER
from connectors.etsy.signature import sign
from connectors.platform import NothingToDo, OrderRef
from plumbing.config import StoreConfig
from plumbing.settings import SettingsError
from sandboxes.base import OrderSpec, SandboxState, make_sandbox_app
from sandboxes.etsy import SANDBOX

SAMPLES = Path(__file__).parents[2] / "sandboxes" / "samples"
OAS = json.loads((SAMPLES / "etsy" / "oas_shop_receipt_schemas.json").read_text())["components"]["schemas"]
BASE = "https://api.etsy.com"
SECRET = "whsec_" + base64.b64encode(b"a 32-byte key chosen in the test").decode()
CREDENTIALS = {"keystring": "ks1", "shared_secret": "ss1", "access_token": "123.tok", "shop_id": "12345"}
STORE = StoreConfig(platform="etsy", store_id="etsy", merchant_email="m@example.com", base_url=BASE,
                    credentials=CREDENTIALS, webhook_secret=SECRET)
RECEIPTS = f"{BASE}/v3/application/shops/12345/receipts"


def money(amount: int, divisor: int = 100, currency: str = "EUR") -> dict:
    return {"amount": amount, "divisor": divisor, "currency_code": currency}


def transaction(tid: int = 2001, **over) -> dict:
    return {"transaction_id": tid, "title": "Name mug &quot;Classic&quot;", "seller_user_id": 9, "buyer_user_id": 8,
            "create_timestamp": 1714557600, "created_timestamp": 1714557600, "paid_timestamp": 1714557660,
            "quantity": 2, "receipt_id": 1001, "is_digital": False, "file_data": "", "listing_id": 1509876543,
            "transaction_type": "listing", "product_id": 12876543210, "sku": "MUG-NAME", "price": money(1450),
            "shipping_cost": money(0), "variations": [], "product_data": [], "buyer_coupon": 0, "shop_coupon": 0,
            **dict.fromkeys(("description", "shipped_timestamp", "listing_image_id", "shipping_profile_id",
                             "min_processing_days", "max_processing_days", "shipping_method", "shipping_upgrade",
                             "expected_ship_date")), **over}


def receipt(**over) -> dict:
    return {"receipt_id": 1001, "receipt_type": 0, "seller_user_id": 9, "buyer_user_id": 8,
            "buyer_email": "ada@example.com", "name": "Ada Lovelace", "first_line": "1 Rue X", "second_line": "Bât. B",
            "city": "Lyon", "zip": "69001", "status": "paid", "formatted_address": "…", "country_iso": "FR",
            "payment_method": "cc", "is_paid": True, "is_shipped": False, "create_timestamp": 1714557600,
            "created_timestamp": 1714557600, "update_timestamp": 1714561200, "updated_timestamp": 1714561200,
            "is_gift": False, "gift_message": "", "gift_sender": "", "grandtotal": money(3300),
            "subtotal": money(2900), "total_price": money(2900), "total_shipping_cost": money(400),
            **{k: money(0) for k in ("total_tax_cost", "total_vat_cost", "discount_amt", "gift_wrap_price")},
            **dict.fromkeys(("seller_email", "state", "payment_email", "message_from_seller", "message_from_buyer",
                             "message_from_payment")),
            "shipments": [], "refunds": [], "transactions": [transaction()], **over}


def personalization(text: str, name: str = "Personalization", property_id: int = 54) -> dict:
    return {"property_id": property_id, "value_id": None, "formatted_name": name, "formatted_value": text}


# --- mapping -----------------------------------------------------------------


def test_receipts_here_and_in_the_sandbox_use_only_the_oas_fields():
    state = SandboxState(store=STORE)
    built = [receipt(), *SANDBOX.seed(state), SANDBOX.new_order(state, OrderSpec())]
    for raw in built:
        assert set(raw) <= set(OAS["ShopReceipt"]["properties"])
        for t in raw["transactions"]:
            assert set(t) <= set(OAS["ShopReceiptTransaction"]["properties"])
            assert all(set(v) <= set(OAS["TransactionVariations"]["properties"]) for v in t["variations"])
            assert set(t["price"]) == set(OAS["Money"]["properties"])


def test_a_receipt_maps_field_by_field():
    mapped = ADAPTER.map_order(STORE, receipt())
    order = mapped.order
    assert order.order_key == "etsy:etsy:1001" and order.order_number == "1001"
    assert order.placed_at == datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert mapped.modified_at == datetime(2024, 5, 1, 11, 0, tzinfo=timezone.utc)
    assert (order.payment_status, order.cancelled, order.is_test) == ("paid", False, False)
    assert (order.currency, order.total) == ("EUR", "33.00")
    assert (order.customer.name, order.customer.email) == ("Ada Lovelace", "ada@example.com")
    address = order.shipping_address
    assert (address.line1, address.line2, address.city, address.postal_code, address.country) == (
        "1 Rue X", "Bât. B", "Lyon", "69001", "FR")
    (line,) = order.line_items
    assert (line.line_id, line.product_id, line.variant_id) == ("2001", "1509876543", "12876543210")
    assert (line.sku, line.title, line.quantity, line.unit_price) == ("MUG-NAME", 'Name mug "Classic"', 2, "14.50")
    assert line.buyer_personalization is None


def test_a_hidden_email_an_absent_address_and_the_older_timestamp_names_still_map():
    raw = receipt(buyer_email=None, first_line=None, second_line=None, city=None, zip=None, country_iso=None)
    for key in ("created_timestamp", "updated_timestamp"):
        del raw[key]
    order = ADAPTER.map_order(STORE, raw).order
    assert order.customer.email is None and order.shipping_address is None
    assert order.placed_at == datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("status", "is_paid", "payment", "cancelled"), [
    ("paid", True, "paid", False), ("completed", True, "paid", False), ("open", False, "unpaid", False),
    ("payment processing", False, "unpaid", False), ("canceled", False, "unpaid", True),
    ("canceled", True, "paid", True), ("fully refunded", True, "refunded", False),
    ("partially refunded", True, "paid", False), ("Paid", False, "paid", False),
    ("Canceled", False, "unpaid", True),
])
def test_status_maps_to_payment_and_cancellation(status, is_paid, payment, cancelled):
    order = ADAPTER.map_order(STORE, receipt(status=status, is_paid=is_paid)).order
    assert (order.payment_status, order.cancelled) == (payment, cancelled)


@pytest.mark.parametrize(("value", "expected"), [
    (money(1450), "14.50"), (money(0), "0.00"), (money(-500), "-5.00"), (money(1450, 1, "JPY"), "1450"),
    (money(12345, 1000, "KWD"), "12.345"),
])
def test_money_is_amount_over_divisor_as_a_decimal_string(value, expected):
    assert ADAPTER.map_order(STORE, receipt(grandtotal=value)).order.total == expected


def test_buyer_text_is_every_personalization_answer_one_per_line():
    variations = [{"property_id": 200, "value_id": 1, "formatted_name": "Color", "formatted_value": "White"},
                  personalization("Ada &amp; Grace"), personalization("O&#039;Neil", name="Second name"),
                  personalization("Not requested on this item.")]
    lines = [transaction(1, variations=variations),
             transaction(2, variations=[personalization("For Bob", name="ENGRAVING", property_id=513)]),
             transaction(3, variations=[personalization("Not requested on this item.")]),
             transaction(4, quantity=0)]
    order = ADAPTER.map_order(STORE, receipt(transactions=lines)).order
    assert [line.buyer_personalization for line in order.line_items] == ["Ada & Grace\nO'Neil", "For Bob", None]
    only_names = STORE.model_copy(update={"buyer_text_keys": ["Name on mug"]})
    (line,) = ADAPTER.map_order(only_names, receipt(transactions=lines[1:2])).order.line_items
    assert line.buyer_personalization is None


@pytest.mark.parametrize("broken", [
    {"receipt_id": 1}, receipt(transactions=[]), receipt(receipt_id=None), receipt(grandtotal=money(0, 0)),
    receipt(grandtotal={"amount": 14.5, "divisor": 100, "currency_code": "EUR"}), receipt(grandtotal=None),
    receipt(created_timestamp=None, create_timestamp=None), receipt(transactions=[transaction(price=None)]),
    receipt(transactions=["not a transaction"]),
])
def test_a_receipt_we_cannot_read_says_why(broken):
    with pytest.raises(UnmappableOrderError):
        ADAPTER.map_order(STORE, broken)


# --- webhooks ----------------------------------------------------------------

# The Standard Webhooks specification's published vector (sandboxes/samples/SOURCES.md).
VECTOR_SECRET, VECTOR_ID = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY, VECTOR_SIGNATURE = b'{"test": 2432232314}', "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def independent_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))  # written here, independently of the code under test
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed(body: bytes, timestamp: int | None = None, secret: str = SECRET, msg_id: str = "msg_1") -> httpx.Headers:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return httpx.Headers({"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
                          "webhook-signature": independent_signature(secret, msg_id, timestamp, body)})


def test_the_standard_webhooks_reference_vector_verifies(monkeypatch):
    class AtTheVectorsTime(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN206
            return datetime.fromtimestamp(VECTOR_TS + 30, tz)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", AtTheVectorsTime)
    store = STORE.model_copy(update={"webhook_secret": VECTOR_SECRET})
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = httpx.Headers({"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS),
                             "webhook-signature": VECTOR_SIGNATURE})
    ADAPTER.verify_webhook(store, headers, VECTOR_BODY)
    with pytest.raises(InvalidSignatureError):
        ADAPTER.verify_webhook(store, headers, VECTOR_BODY.replace(b"4", b"5"))


def test_a_correctly_signed_sample_body_is_read_as_a_receipt_to_fetch():
    body = (SAMPLES / "etsy" / "webhook_order_paid.json").read_bytes()
    ADAPTER.verify_webhook(STORE, signed(body), body)
    assert ADAPTER.read_webhook(STORE, signed(body), body) == OrderRef("54321")


def test_several_signatures_in_the_header_pass_when_one_matches():
    body = b'{"event_type": "order.paid"}'
    good = signed(body)
    mixed = f"v1a,c29tZXRoaW5n   v1,{base64.b64encode(b'x' * 32).decode()} {good['webhook-signature']}"
    ADAPTER.verify_webhook(STORE, httpx.Headers({**good, "webhook-signature": mixed}), body)


@pytest.mark.parametrize("mutate", [
    lambda body, h: (body + b" ", h),  # tampered body
    lambda body, h: (body, signed(body, secret="whsec_" + base64.b64encode(b"another key" * 3).decode())),
    lambda body, h: (body, signed(body, timestamp=int(time.time()) - 301)),  # stale: a replay
    lambda body, h: (body, signed(body, timestamp=int(time.time()) + 301)),  # from the future
    lambda body, h: (body, {k: v for k, v in h.items() if k != "webhook-signature"}),
    lambda body, h: (body, {k: v for k, v in h.items() if k != "webhook-id"}),
    lambda body, h: (body, {**h, "webhook-signature": "not a signature"}),
    lambda body, h: (body, {**h, "webhook-signature": "v1,%%%"}),
    lambda body, h: (b"\xff" + body, signed(b"\xff" + body)),  # not UTF-8: the package cannot even read it
])
def test_tampered_stale_missing_or_wrong_signatures_are_refused(mutate):
    body = (SAMPLES / "etsy" / "webhook_order_paid.json").read_bytes()
    body, headers = mutate(body, dict(signed(body)))
    with pytest.raises(InvalidSignatureError):
        ADAPTER.verify_webhook(STORE, httpx.Headers(headers), body)


@pytest.mark.parametrize("secret", [None, "", "whsec_"])
def test_a_store_without_a_usable_secret_refuses_every_webhook(secret):
    body = b"{}"
    with pytest.raises(InvalidSignatureError):
        ADAPTER.verify_webhook(STORE.model_copy(update={"webhook_secret": secret}), signed(body), body)


def test_the_sandbox_signs_as_an_independent_implementation_expects():
    state = SandboxState(store=STORE)
    raw = SANDBOX.new_order(state, OrderSpec())
    headers, body = SANDBOX.webhook(state, raw, "created", thin=True)
    expected = independent_signature(SECRET, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    assert headers["webhook-signature"] == expected
    assert json.loads(body) == {"event_type": "order.paid", "shop_id": 12345,
                                "resource_url": f"{RECEIPTS}/{raw['receipt_id']}"}


@pytest.mark.parametrize(("payload", "note"), [
    ({"event_type": "order.paid", "resource_url": f"{RECEIPTS}/77", "shop_id": "12345"}, OrderRef("77")),
    ({"event_type": "ORDER_PAID", "resource_url": "https://openapi.etsy.com/v3/application/shops/12345/receipts/78",
      "shop_id": 12345}, OrderRef("78")),
    ({"event_type": "order.paid", "resource_url": "https://api.etsy.com/v3/application/shops/999/receipts/79",
      "shop_id": 999}, NothingToDo("receipt of shop 999, not of this store's shop 12345")),
    ({"event_type": "listing.updated", "resource_url": "x", "shop_id": 1},
     NothingToDo("event listing.updated is not about orders")),
])
def test_bodies_read_as_receipts_other_shops_or_other_events(payload, note):
    assert ADAPTER.read_webhook(STORE, httpx.Headers(), json.dumps(payload).encode()) == note


@pytest.mark.parametrize("body", [
    b"<html>", b"[]", b'{"unexpected": true}', b'{"event_type": "order.paid"}',
    b'{"event_type": "order.paid", "resource_url": "https://evil.example/v3/application/shops/12345/receipts/1"}',
    b'{"event_type": "order.paid", "resource_url": "https://api.etsy.com/v3/application/shops/12345/listings/1"}',
])
def test_a_verified_body_we_cannot_read_is_unreadable(body):
    with pytest.raises(UnreadableWebhookError):
        ADAPTER.read_webhook(STORE, httpx.Headers(), body)


# --- the API conversation ----------------------------------------------------


def client(**kwargs) -> PlatformClient:
    return PlatformClient("etsy", BASE, headers=ADAPTER.headers(STORE), rate_limit_wait=ADAPTER.rate_limit_wait,
                          backoff_initial_s=0.01, backoff_max_s=0.02, **kwargs)


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_the_poll_asks_updated_since_oldest_first_and_pages_by_offset(respx_mock):
    route = respx_mock.get(RECEIPTS).mock(side_effect=[
        httpx.Response(200, json={"count": 3, "results": [receipt(receipt_id=1), receipt(receipt_id=2)]}),
        httpx.Response(200, json={"count": 3, "results": [receipt(receipt_id=3)]}),
    ])
    api = client()
    since = datetime(2024, 5, 1, 10, 0, 0, 900, timezone.utc)  # the filter takes whole seconds: rounded down
    pages = [page async for page in ADAPTER.list_modified(api, STORE, since)]
    await api.aclose()
    assert [[r["receipt_id"] for r in page] for page in pages] == [[1, 2], [3]]
    first, second = (dict(call.request.url.params) for call in route.calls)
    assert first == {"min_last_modified": "1714557600", "sort_on": "updated", "sort_order": "asc", "limit": "100",
                     "offset": "0"}
    assert second == {**first, "offset": "2"}
    sent = route.calls[0].request.headers
    assert (sent["x-api-key"], sent["authorization"]) == ("ks1:ss1", "Bearer 123.tok")


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_an_empty_page_ends_the_poll_and_a_since_before_2000_is_raised_to_etsys_minimum(respx_mock):
    route = respx_mock.get(RECEIPTS).mock(return_value=httpx.Response(200, json={"count": 5, "results": []}))
    api = client()
    since = datetime(1999, 12, 31, tzinfo=timezone.utc)
    assert [page async for page in ADAPTER.list_modified(api, STORE, since)] == []
    await api.aclose()
    assert route.call_count == 1 and route.calls[0].request.url.params["min_last_modified"] == "946684800"


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_one_receipt_is_fetched_by_id_and_a_bare_429_is_retried(respx_mock):
    route = respx_mock.get(f"{RECEIPTS}/1001").mock(side_effect=[
        httpx.Response(429, json={"error": "Too many requests"}), httpx.Response(200, json=receipt())])
    api = client()
    assert (await ADAPTER.fetch_order(api, STORE, "1001"))["receipt_id"] == 1001
    await api.aclose()
    assert route.call_count == 2 and route.calls[1].request.headers["x-api-key"] == "ks1:ss1"


def test_a_store_missing_a_credential_stops_start_up_naming_it():
    for key in ("keystring", "shared_secret", "access_token"):
        creds = {k: v for k, v in STORE.credentials.items() if k != key}
        with pytest.raises(SettingsError, match=key):
            ADAPTER.headers(STORE.model_copy(update={"credentials": creds}))


async def test_the_connector_pages_through_the_sandbox_to_its_last_receipt():
    app = make_sandbox_app(SANDBOX, STORE)
    state = app.state.sandbox
    for raw in (SANDBOX.new_order(state, OrderSpec()) for _ in range(150)):
        state.orders[str(raw["receipt_id"])] = raw
    api = client(transport=httpx.ASGITransport(app=app))
    pages = [page async for page in ADAPTER.list_modified(api, STORE, datetime(2000, 1, 1, tzinfo=timezone.utc))]
    await api.aclose()
    assert [len(page) for page in pages] == [100, 52]
    stamps = [r["updated_timestamp"] for page in pages for r in page]
    assert stamps == sorted(stamps) and len({r["receipt_id"] for page in pages for r in page}) == 152
