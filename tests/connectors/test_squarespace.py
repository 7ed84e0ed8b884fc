"""Squarespace: the platform contract on the documented JSON, and its quirks (customizations as buyer text, the
nulls the docs allow, a signature in hex or base64, a date range XOR a cursor, the minute of cool-down).

The order is the documented one (sandboxes.squarespace.documented_order): its leading fields are
samples/squarespace/order_retrieve_partial.json (developers.squarespace.com/commerce-apis/
retrieve-specific-order), the rest is that page's response example as copied in public repos (lineItems
with customizations and variantOptions, top-level money totals, fulfillmentStatus, refundedTotal; see
connectors/squarespace/mapping.py). Webhook bodies are samples/squarespace/webhook_order_*.json
(.../webhooks/events/order-create, order-update); the signature rule is .../webhooks/verifying-notifications.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.client import PlatformClient
from connectors.errors import UnreadableWebhookError
from connectors.platform import NothingToDo, OrderRef, Uninstalled, WebhookNote
from connectors.squarespace import ADAPTER, client
from plumbing.config import StoreConfig
from sandboxes.orders.squarespace import documented_order
from sandboxes.squarespace import SANDBOX
from schemas import OrderReceived
from tests.connectors.contract import Delivery, PlatformContract
from tests.connectors.platform_case import sample_bytes
from tests.connectors.stores.squarespace import SECRET, UNIT

CREATED = sample_bytes("squarespace", "webhook_order_create.json")


def usd(value: str) -> dict:
    return {"value": value, "currency": "USD"}


def hex_signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(bytes.fromhex(secret), body, hashlib.sha256).hexdigest()  # computed here, independently


class TestSquarespace(PlatformContract):
    adapter, sandbox = ADAPTER, SANDBOX
    store = UNIT

    variations = tuple(
        (
            {"fulfillmentStatus": fulfillment, "refundedTotal": usd(refunded), "grandTotal": usd(grand)},
            {"payment_status": payment, "cancelled": cancelled},
        )
        for fulfillment, refunded, grand, payment, cancelled in [
            ("PENDING", "0.00", "57.70", "paid", False),
            ("FULFILLED", "0.00", "57.70", "paid", False),
            ("CANCELED", "0.00", "57.70", "paid", True),
            ("PENDING", "10.00", "57.70", "paid", False),  # a partial refund: still shipped
            ("PENDING", "57.70", "57.70", "refunded", False),
            ("CANCELED", "57.70", "57.70", "refunded", True),
            ("PENDING", "0.00", "0.00", "paid", False),
        ]
    )  # a free order is not a refunded one
    broken = (
        {"id": "1"},
        {**documented_order(), "lineItems": []},
        {**documented_order(), "lineItems": None},
        {**documented_order(), "grandTotal": usd("twelve")},
        {**documented_order(), "grandTotal": usd("NaN")},
        {**documented_order(), "createdOn": None},
        {**documented_order(), "createdOn": "yesterday"},
        {**documented_order(), "lineItems": [{"id": "l1", "productName": "Mug", "quantity": 1}]},
    )  # no price

    signature_header = "Squarespace-Signature"
    other_secret = "00" * 32
    forgeries = (
        pytest.param(lambda t, h, b: (h, b'{"tampered": 1}'), id="another body under this signature"),
        pytest.param(lambda t, h, b: ({**h, "Squarespace-Signature": ""}, b), id="an empty signature"),
    )
    unusable_secrets = (("not-hex", "not hex"),)
    reads = (
        (sample_bytes("squarespace", "webhook_order_update.json"), OrderRef("5f3c39ce69e11e796f19990e")),
        (json.dumps({"id": "n1", "topic": "extension.uninstall", "data": {}}).encode(), Uninstalled),
        (json.dumps({"id": "n2", "topic": "contact.create", "data": {}}).encode(), NothingToDo),
    )
    unreadable = (b'{"unexpected": true}', b'{"topic": "order.create", "data": {}}', b"[1]")

    webhooks_carry_the_order = False
    seeded_payments = ("paid", "paid")
    polled_pages = (50, 50, 50, 2)

    def documented_order(self) -> dict:
        return documented_order()

    def deliver(self, payload: Any, headers: dict[str, str] | None = None, secret: Any = None) -> Delivery:
        signed = {
            "User-Agent": "Squarespace/1.0",
            "Content-Type": "application/json",
            "Squarespace-Signature": hex_signature(payload, secret or SECRET),
        }
        return {**signed, **(headers or {})}, payload

    def sample_payload(self) -> bytes:
        return CREATED

    def sample_note(self) -> WebhookNote:
        return OrderRef("5f3c39ce69e11e796f19990e")

    def check_signature(self, headers: dict[str, str], body: bytes) -> None:
        assert headers["Squarespace-Signature"] == hex_signature(body)

    def list_modified(self, api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
        # The sandbox's clock ticks a second per order placed, so the window must reach past now.
        return client.list_modified(api, store, since, now=lambda: datetime.now(UTC) + timedelta(hours=1))

    # --- quirks -----------------------------------------------------------------------------------------

    def mapped(self, raw: dict, store: StoreConfig | None = None) -> OrderReceived:
        return ADAPTER.map_order(store or self.store, raw).order

    def test_buyer_text_is_the_answers_labelled_as_the_store_says_else_every_answer(self) -> None:
        raw = documented_order()
        answers = raw["lineItems"][0]["customizations"] = [{"label": "Gift wrap", "value": "Yes"}]
        answers.append({"label": "Engraving", "value": "Ada"})
        assert self.mapped(raw).line_items[0].buyer_personalization == "Ada"
        names = self.store.model_copy(update={"buyer_text_keys": ["name on mug"]})
        raw["lineItems"][0]["customizations"] = [
            {"label": "Name on Mug", "value": "Grace"},
            {"label": "Font", "value": "Serif"},
        ]
        assert self.mapped(raw, names).line_items[0].buyer_personalization == "Grace"
        assert self.mapped(raw).line_items[0].buyer_personalization == "Name on Mug: Grace\nFont: Serif"
        for empty in (None, [], [{"label": "Engraving", "value": ""}]):
            raw["lineItems"][0]["customizations"] = empty
            assert self.mapped(raw).line_items[0].buyer_personalization is None

    def test_nulls_the_docs_allow_are_read(self) -> None:
        """responses-error-handling: fields may be null and empty arrays may be null."""
        raw = documented_order()
        raw["lineItems"][0].update(variantOptions=None, customizations=None, variantId=None, sku=None)
        raw["shippingAddress"] = dict.fromkeys(raw["shippingAddress"])  # a download: nowhere to ship
        raw["billingAddress"].update(firstName="", lastName="")
        raw["orderNumber"] = 1042  # a third-party schema says integer; the docs say string
        mapped = self.mapped(raw)
        (line,) = mapped.line_items
        assert (line.variant_id, line.sku, line.title, line.buyer_personalization) == (None, None, "Product", None)
        assert mapped.shipping_address is None and mapped.customer.name == "" and mapped.order_number == "1042"

    def test_billing_without_a_name_falls_back_to_the_shipping_name(self) -> None:
        raw = documented_order()
        raw["billingAddress"].update(firstName="", lastName="")
        raw["shippingAddress"].update(firstName="Grace", lastName="Hopper")
        assert self.mapped(raw).customer.name == "Grace Hopper"

    def test_money_keeps_the_currency_precision(self) -> None:
        raw = {**documented_order(), "grandTotal": {"value": "5700", "currency": "JPY"}}
        raw["lineItems"][0]["unitPricePaid"] = {"value": "5500", "currency": "JPY"}
        mapped = self.mapped(raw)
        assert (mapped.currency, mapped.total, mapped.line_items[0].unit_price) == ("JPY", "5700", "5500")

    @pytest.mark.parametrize(
        "encode",
        [
            lambda body: hex_signature(body),
            lambda body: hex_signature(body).upper(),
            lambda body: base64.b64encode(bytes.fromhex(hex_signature(body))).decode(),
        ],
        ids=["hex", "upper-case hex", "base64"],
    )
    def test_a_signature_in_hex_or_base64_is_accepted_and_the_order_is_fetched(self, encode) -> None:
        headers, body = self.deliver(CREATED, {"Squarespace-Signature": encode(CREATED)})
        ADAPTER.verify_webhook(self.store, httpx.Headers(headers), body)
        assert ADAPTER.read_webhook(self.store, httpx.Headers(headers), body) == OrderRef("5f3c39ce69e11e796f19990e")

    def test_verification_reads_only_bytes_so_it_comes_before_any_parsing(self) -> None:
        headers, body = self.deliver(b"\xff not json")
        ADAPTER.verify_webhook(self.store, httpx.Headers(headers), body)
        with pytest.raises(UnreadableWebhookError):
            ADAPTER.read_webhook(self.store, httpx.Headers(headers), body)
