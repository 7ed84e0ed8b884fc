"""WooCommerce: the platform contract on its documented JSON, and its quirks (buyer text in line meta, the
unsigned creation ping, OAuth 1.0a over plain HTTP, pages counted in X-WP-TotalPages)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx
import pytest

from connectors.platform import FullOrder, NothingToDo, OrderRef, WebhookNote
from connectors.woocommerce import ADAPTER
from sandboxes.base import SandboxState
from sandboxes.woocommerce import SANDBOX
from tests.connectors.contract import Delivery, PlatformContract
from tests.connectors.platform_case import sample, sample_bytes
from tests.connectors.stores.woocommerce import SECRET, UNIT

ORDER = "order_retrieve_v3.json"


def signature(body: bytes, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()  # computed here, independently of the code
    return base64.b64encode(digest).decode()


def topic(name: str) -> dict[str, str]:
    return {"X-WC-Webhook-Topic": name}


class TestWooCommerce(PlatformContract):
    adapter, sandbox = ADAPTER, SANDBOX
    store = UNIT

    variations = (
        # Never paid (no payment date): the status alone decides ...
        *(
            ({"status": status, "date_paid": None, "date_paid_gmt": None}, {"payment_status": payment, "cancelled": c})
            for status, payment, c in [
                ("processing", "paid", False),
                ("completed", "paid", False),  # completed by hand, with no payment recorded
                ("on-hold", "unpaid", False),
                ("pending", "unpaid", False),
                ("failed", "unpaid", False),
                ("cancelled", "unpaid", True),
                ("refunded", "refunded", False),
                ("trash", "unpaid", True),
                ("awaiting-engraving", "unpaid", False),  # a store's own status
            ]
        ),
        # ... and a payment date makes it paid, whatever the status (the sample was paid 2017-03-22T19:28:08).
        *(
            ({"status": status}, {"payment_status": payment, "cancelled": c})
            for status, payment, c in [
                ("shipped", "paid", False),
                ("on-hold", "paid", False),
                ("cancelled", "paid", True),
                ("refunded", "refunded", False),
                ("trash", "paid", True),
            ]
        ),
        ({"meta_data": [{"id": 9, "key": "personalize_test", "value": "yes"}]}, {"is_test": True}),  # a test order
    )
    broken = (
        {"id": 1},
        {**sample("woocommerce", ORDER), "line_items": []},
        {**sample("woocommerce", ORDER), "total": "twelve"},
        {**sample("woocommerce", ORDER), "date_created_gmt": None},
    )

    signature_header = "X-WC-Webhook-Signature"
    other_secret = "someone-elses-secret"
    forgeries = (
        pytest.param(
            lambda t, h, b: ({**h, "X-WC-Webhook-Signature": signature(b.replace(b"727", b"728"))}, b),
            id="another body's signature",
        ),
        pytest.param(lambda t, h, b: ({**h, "X-WC-Webhook-Signature": "not base64 at all"}, b), id="not base64"),
    )
    reads = ((b'{"id": 5}', OrderRef("5"), topic("order.deleted")), (b"{}", NothingToDo, topic("product.updated")))
    unreadable = (b"<html>",)  # as order.updated

    webhooks_carry_the_order = True
    seeded_payments = ("paid", "paid")  # processing, completed
    polled_pages = (100, 52)

    def documented_order(self) -> dict:
        return sample("woocommerce", ORDER)

    def deliver(self, payload: Any, headers: dict[str, str] | None = None, secret: Any = None) -> Delivery:
        signed = {"X-WC-Webhook-Signature": signature(payload, secret or SECRET), **topic("order.updated")}
        return {**signed, **(headers or {})}, payload

    def sample_payload(self) -> bytes:
        return sample_bytes("woocommerce", ORDER)

    def sample_note(self) -> WebhookNote:
        return FullOrder(sample("woocommerce", ORDER))

    def check_signature(self, headers: dict[str, str], body: bytes) -> None:
        assert headers["X-WC-Webhook-Signature"] == signature(body)

    # --- quirks -----------------------------------------------------------------------------------------

    def test_buyer_text_comes_from_line_meta_named_as_the_store_says(self) -> None:
        raw = sample("woocommerce", ORDER)
        raw["line_items"][0]["meta_data"] = [
            {"id": 1, "key": "_reduced_stock", "value": "2"},
            {
                "id": 2,
                "key": "Personalization",
                "value": "Ada",
                "display_key": "Personalization",
                "display_value": "Ada",
            },
        ]
        raw["line_items"][1]["meta_data"].append({"id": 3, "key": "Engraving", "value": "For Grace"})
        lines = ADAPTER.map_order(self.store, raw).order.line_items
        assert [line.buyer_personalization for line in lines] == ["Ada", "For Grace"]
        only_names = self.store.model_copy(update={"buyer_text_keys": ["Name on mug"]})
        assert ADAPTER.map_order(only_names, raw).order.line_items[0].buyer_personalization is None

    def test_the_sandbox_keys_its_signature_with_the_secret_as_wordpress_decodes_it(self) -> None:
        # generate_signature: wp_specialchars_decode(secret, ENT_QUOTES), entities of < > " ' & only, once.
        store = self.store.model_copy(update={"webhook_secret": "s&amp;cr&#039;t&amp;lt;&eacute;"})
        headers, body = SANDBOX.sign_raw(SandboxState(store=store), b"{}", "created")
        assert headers["X-WC-Webhook-Signature"] == signature(body, "s&cr't&lt;&eacute;")

    def test_a_secret_with_html_entities_verifies_as_wordpress_signs(self) -> None:
        # The connector once keyed with the raw secret: every webhook of such a store was refused.
        store = self.store.model_copy(update={"webhook_secret": "s&amp;cr&#039;t&#x26;&amp;lt;&eacute;"})
        headers, body = SANDBOX.sign_raw(SandboxState(store=store), b'{"id": 1}', "created")
        ADAPTER.verify_webhook(store, httpx.Headers(headers), body)
        assert headers["X-WC-Webhook-Signature"] == signature(body, "s&cr't&&lt;&eacute;")

    def test_an_order_first_seen_with_a_custom_paid_status_and_a_payment_date_is_paid(self) -> None:
        # A plugin's status, given after payment_complete() set the payment date; never processing/completed.
        raw = {**sample("woocommerce", ORDER), "status": "ready-to-engrave", "date_paid_gmt": "2024-05-01T09:00:00"}
        assert ADAPTER.map_order(self.store, raw).order.payment_status == "paid"
        unpaid = {**raw, "date_paid": None, "date_paid_gmt": None}
        assert ADAPTER.map_order(self.store, unpaid).order.payment_status == "unpaid"

    def test_the_creation_ping_is_recognised_only_unsigned_and_form_shaped(self) -> None:
        assert ADAPTER.is_ping(httpx.Headers({}), b"webhook_id=12")
        assert not ADAPTER.is_ping(httpx.Headers({}), b'{"id": 12}')
        assert not ADAPTER.is_ping(httpx.Headers({"X-WC-Webhook-Signature": "x"}), b"webhook_id=12")
