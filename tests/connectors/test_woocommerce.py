"""WooCommerce: mapping of the documented JSON, webhook signatures, and the API conversation.

Responses are the platform's documented examples, served at the httpx
transport by respx; a request that matches no recorded route fails the test,
and so does a recorded route that was never called.
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
from connectors.platform import FullOrder, NothingToDo, OrderRef
from connectors.woocommerce import ADAPTER
from plumbing.config import StoreConfig

SAMPLES = Path(__file__).parents[2] / "sandboxes" / "samples" / "woocommerce"
BASE = "https://shop.example.com"
SECRET = "wc-secret-for-tests"
STORE = StoreConfig(platform="woocommerce", store_id="woo", merchant_email="m@example.com", base_url=BASE,
                    credentials={"consumer_key": "ck_1", "consumer_secret": "cs_1"}, webhook_secret=SECRET)


def sample(name: str):
    return json.loads((SAMPLES / name).read_text())


def signed(body: bytes, topic: str = "order.updated") -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()  # computed here, independently of the code
    return {"X-WC-Webhook-Signature": base64.b64encode(digest).decode(), "X-WC-Webhook-Topic": topic}


# --- mapping -----------------------------------------------------------------


def test_the_documented_order_maps_field_by_field():
    mapped = ADAPTER.map_order(STORE, sample("order_retrieve_v3.json"))
    order = mapped.order
    assert order.order_key == "woocommerce:woo:727" and order.order_number == "727"
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=timezone.utc)
    assert mapped.modified_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=timezone.utc)
    assert (order.payment_status, order.cancelled, order.is_test) == ("paid", False, False)
    assert (order.currency, order.total) == ("USD", "29.35")
    assert order.customer.email == "john.doe@example.com" and order.shipping_address.city == "San Francisco"
    first, second = order.line_items
    assert (first.line_id, first.product_id, first.variant_id, first.sku) == ("315", "93", None, None)
    assert (first.quantity, first.unit_price) == (2, "3.00")
    assert (second.variant_id, second.sku, second.unit_price) == ("23", "Bar3", "12.00")
    assert second.title == "Ship Your Idea – Color: Black, Size: M Test"  # &ndash; unescaped
    assert first.buyer_personalization is None and second.buyer_personalization is None  # pa_color is not buyer text


def test_every_order_of_the_documented_list_maps():
    for raw in sample("orders_list_v3.json"):
        assert ADAPTER.map_order(STORE, raw).order.platform_order_id == str(raw["id"])


@pytest.mark.parametrize(("status", "payment", "cancelled"), [
    ("processing", "paid", False), ("completed", "paid", False), ("on-hold", "unpaid", False),
    ("pending", "unpaid", False), ("failed", "unpaid", False), ("cancelled", "unpaid", True),
    ("refunded", "refunded", False), ("trash", "unpaid", True),
])
def test_status_maps_to_payment_and_cancellation(status, payment, cancelled):
    raw = {**sample("order_retrieve_v3.json"), "status": status}
    order = ADAPTER.map_order(STORE, raw).order
    assert (order.payment_status, order.cancelled) == (payment, cancelled)


def test_buyer_text_comes_from_line_meta_named_as_the_store_says():
    raw = sample("order_retrieve_v3.json")
    raw["line_items"][0]["meta_data"] = [
        {"id": 1, "key": "_reduced_stock", "value": "2"},
        {"id": 2, "key": "Personalization", "value": "Ada", "display_key": "Personalization", "display_value": "Ada"},
    ]
    raw["line_items"][1]["meta_data"].append({"id": 3, "key": "Engraving", "value": "For Grace"})
    lines = ADAPTER.map_order(STORE, raw).order.line_items
    assert [line.buyer_personalization for line in lines] == ["Ada", "For Grace"]
    only_names = STORE.model_copy(update={"buyer_text_keys": ["Name on mug"]})
    assert ADAPTER.map_order(only_names, raw).order.line_items[0].buyer_personalization is None


def test_a_test_order_is_flagged_by_order_meta():
    raw = {**sample("order_retrieve_v3.json"), "meta_data": [{"id": 9, "key": "personalize_test", "value": "yes"}]}
    assert ADAPTER.map_order(STORE, raw).order.is_test


@pytest.mark.parametrize("broken", [
    {"id": 1}, {**sample("order_retrieve_v3.json"), "line_items": []},
    {**sample("order_retrieve_v3.json"), "total": "twelve"}, {**sample("order_retrieve_v3.json"), "date_created_gmt": None},
])
def test_an_order_we_cannot_read_says_why(broken):
    with pytest.raises(UnmappableOrderError):
        ADAPTER.map_order(STORE, broken)


# --- webhooks ----------------------------------------------------------------


def test_a_correctly_signed_full_order_webhook_is_read():
    body = (SAMPLES / "order_retrieve_v3.json").read_bytes()
    headers = httpx.Headers(signed(body))
    ADAPTER.verify_webhook(STORE, headers, body)
    assert isinstance(ADAPTER.read_webhook(STORE, headers, body), FullOrder)


@pytest.mark.parametrize("mutate", [
    lambda body, headers: (body + b" ", headers),
    lambda body, headers: (body, {**headers, "X-WC-Webhook-Signature": signed(body.replace(b"727", b"728"))["X-WC-Webhook-Signature"]}),
    lambda body, headers: (body, {k: v for k, v in headers.items() if k != "X-WC-Webhook-Signature"}),
    lambda body, headers: (body, {**headers, "X-WC-Webhook-Signature": "not base64 at all"}),
])
def test_tampered_missing_or_wrong_signatures_are_refused(mutate):
    body = (SAMPLES / "order_retrieve_v3.json").read_bytes()
    body, headers = mutate(body, signed(body))
    with pytest.raises(InvalidSignatureError):
        ADAPTER.verify_webhook(STORE, httpx.Headers(headers), body)


def test_a_store_without_a_secret_refuses_every_webhook():
    body = b"{}"
    with pytest.raises(InvalidSignatureError, match="no webhook_secret"):
        ADAPTER.verify_webhook(STORE.model_copy(update={"webhook_secret": None}), httpx.Headers(signed(body)), body)


def test_the_creation_ping_is_recognised_only_unsigned_and_form_shaped():
    assert ADAPTER.is_ping(httpx.Headers({}), b"webhook_id=12")
    assert not ADAPTER.is_ping(httpx.Headers({}), b'{"id": 12}')
    assert not ADAPTER.is_ping(httpx.Headers({"X-WC-Webhook-Signature": "x"}), b"webhook_id=12")


def test_topics_read_as_full_orders_references_or_nothing():
    assert ADAPTER.read_webhook(STORE, httpx.Headers({"X-WC-Webhook-Topic": "order.deleted"}), b'{"id": 5}') == OrderRef("5")
    assert isinstance(ADAPTER.read_webhook(STORE, httpx.Headers({"X-WC-Webhook-Topic": "product.updated"}), b"{}"), NothingToDo)
    with pytest.raises(UnreadableWebhookError):
        ADAPTER.read_webhook(STORE, httpx.Headers({"X-WC-Webhook-Topic": "order.updated"}), b"<html>")


# --- the API conversation ----------------------------------------------------


def client() -> PlatformClient:
    return PlatformClient("woocommerce", BASE, auth=ADAPTER.auth(STORE), backoff_initial_s=0.01, backoff_max_s=0.02)


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_the_poll_asks_modified_after_in_gmt_oldest_first_and_follows_total_pages(respx_mock):
    listing = sample("orders_list_v3.json")
    route = respx_mock.get(f"{BASE}/wp-json/wc/v3/orders").mock(side_effect=[
        httpx.Response(200, json=listing[:1], headers={"X-WP-TotalPages": "2"}),
        httpx.Response(200, json=listing[1:], headers={"X-WP-TotalPages": "2"}),
    ])
    since = datetime(2017, 3, 22, 19, 0, tzinfo=timezone.utc)
    api = client()
    pages = [page async for page in ADAPTER.list_modified(api, STORE, since)]
    await api.aclose()
    assert [[o["id"] for o in page] for page in pages] == [[727], [723]]
    first = route.calls[0].request.url.params
    assert first["modified_after"] == "2017-03-22T19:00:00" and first["dates_are_gmt"] == "true"
    assert (first["orderby"], first["order"], first["per_page"], first["page"]) == ("modified", "asc", "100", "1")
    assert route.calls[1].request.url.params["page"] == "2"
    assert route.calls[0].request.headers["authorization"].startswith("Basic ")


@respx.mock(assert_all_called=True, assert_all_mocked=True)
async def test_over_plain_http_requests_are_signed_with_oauth1(respx_mock):
    http_store = STORE.model_copy(update={"base_url": "http://shop.example.com"})
    route = respx_mock.get("http://shop.example.com/wp-json/wc/v3/orders/727").mock(
        return_value=httpx.Response(200, json=sample("order_retrieve_v3.json")))
    api = PlatformClient("woocommerce", "http://shop.example.com", auth=ADAPTER.auth(http_store))
    assert (await ADAPTER.fetch_order(api, http_store, "727"))["id"] == 727
    await api.aclose()
    params = route.calls[0].request.url.params
    assert params["oauth_consumer_key"] == "ck_1" and params["oauth_signature_method"] == "HMAC-SHA256"
    assert "authorization" not in route.calls[0].request.headers
