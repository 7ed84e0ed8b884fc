"""BigCommerce: the platform contract on the documented JSON, and its quirks (fifteen statuses and a payment
field, text options as buyer text, products and addresses fetched beside the order, 204 for an empty page,
the reset header of a 429, a signing key that is base64 of the client secret)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.bigcommerce import ADAPTER, signature
from connectors.platform import NothingToDo, OrderRef, WebhookNote
from sandboxes.base import ItemSpec, OrderSpec, SandboxState
from sandboxes.bigcommerce import SANDBOX
from tests.connectors.platform_case import sample, sample_bytes
from tests.connectors.standard_webhooks import (
    VECTOR_BODY,
    VECTOR_ID,
    VECTOR_SECRET,
    VECTOR_TS,
    StandardWebhooksContract,
)
from tests.connectors.stores.bigcommerce import SECRET, UNIT

VECTOR_KEY = VECTOR_SECRET.removeprefix("whsec_")  # as a BigCommerce key: already base64


def bc(name: str) -> Any:
    return sample("bigcommerce", name)


def whole(order: dict) -> dict:
    """An order as the client hands it over: its products fetched into `products`."""
    return {**order, "products": bc("order_products_v2.json")}


STATUSES = [
    (0, "unpaid", False),
    (1, "unpaid", False),
    (2, "paid", False),
    (3, "paid", False),
    (4, "refunded", False),
    (5, "unpaid", True),
    (6, "unpaid", True),
    (7, "unpaid", False),
    (8, "paid", False),
    (9, "paid", False),
    (10, "paid", False),
    (11, "paid", False),
    (12, "unpaid", False),
    (13, "paid", False),
    (14, "paid", False),
]


class TestBigCommerce(StandardWebhooksContract):
    adapter, sandbox = ADAPTER, SANDBOX
    store = UNIT
    sandbox_store = store.model_copy(update={"base_url": "http://sandbox"})  # it serves /v2 at its root

    variations = (
        # Every documented status (the sample's payment_status is "authorized") ...
        *(
            ({"status_id": status_id}, {"payment_status": payment, "cancelled": cancelled})
            for status_id, payment, cancelled in STATUSES
        ),
        # ... and the payment field decides where the status does not.
        *(
            ({"status_id": status_id, "payment_status": field}, {"payment_status": payment})
            for status_id, field, payment in [
                (7, "captured", "paid"),
                (1, "paid", "paid"),
                (12, "captured", "paid"),
                (7, "authorized", "unpaid"),
                (0, "captured", "unpaid"),
                (6, "captured", "unpaid"),
                (11, "refunded", "refunded"),
                (14, "partially refunded", "paid"),
            ]
        ),
        ({"is_deleted": True}, {"cancelled": True}),  # archived
        ({"staff_notes": "Personalize_test - ignore"}, {"is_test": True}),
    )
    broken = (
        {"id": 1},
        bc("order_get_v2.json"),  # products not fetched: only the resource link
        whole({**bc("order_get_v2.json"), "total_inc_tax": "twelve"}),
        whole({**bc("order_get_v2.json"), "date_created": "yesterday"}),
        {**bc("order_get_v2.json"), "products": []},
    )

    other_secret = "someone-elses-secret"
    reads = (
        *(
            (sample_bytes("bigcommerce", f"webhook_store_order_{name}.json"), OrderRef("250"))
            for name in ["created", "updated", "statusUpdated", "archived", "refund_created"]
        ),
        (
            {"scope": "store/order/transaction/updated", "data": {"type": "transaction", "order_id": 250}},
            OrderRef("250"),
        ),
        ({"scope": "store/order/message/created", "data": {"type": "order", "id": 250}}, NothingToDo),
        ({"scope": "store/product/updated", "data": {"type": "product", "id": 205}}, NothingToDo),
    )
    unreadable = (
        b"<html>",
        b"[1]",
        b'{"unexpected": true}',
        {"scope": "store/order/created", "data": {"type": "order"}},
        {"scope": "store/order/created", "data": {"type": "order", "id": "x"}},
    )

    webhooks_carry_the_order = False
    seeded_payments = ("paid",)  # Awaiting Fulfillment
    placed = 250  # one full page of the connector's 250, and one more
    polled_pages = (250, 1)

    def documented_order(self) -> dict:
        return whole(bc("order_get_v2.json"))

    def sample_payload(self) -> bytes:
        return sample_bytes("bigcommerce", "webhook_store_order_created.json")

    def sample_note(self) -> WebhookNote:
        return OrderRef("250")

    def key(self, secret: str) -> bytes:
        return secret.encode()  # the spec base64-decodes the key BigCommerce gives it: base64(client secret)

    def sign_vector(self) -> str:
        return signature.sign(VECTOR_KEY, VECTOR_ID, VECTOR_TS, VECTOR_BODY)

    def verify_vector(self, headers: dict[str, str], body: bytes) -> None:
        signature.verify_with_key(VECTOR_KEY, httpx.Headers(headers), body)

    # --- quirks -----------------------------------------------------------------------------------------

    def test_the_status_table_holds_every_documented_status(self) -> None:
        assert {s["id"] for s in bc("order_statuses_v2.json")} == set(range(15)) == {s for s, _, _ in STATUSES}

    def test_buyer_text_comes_from_text_options_and_options_named_as_the_store_says(self) -> None:
        raw = whole(bc("order_get_v2.json"))
        rows = raw["products"] = [dict(row) for row in raw["products"]]
        rows[0]["product_options"] = [
            {"display_name": "Message", "display_value": "Happy\nbirthday", "type": "Multi-line text field"},
            {"display_name": "Engraving", "display_value": "Gold script", "type": "Multiple choice"},
            {
                "display_name": "Personalization",
                "display_value": "photo.png",
                "value": '{"f":1}',
                "type": "File Upload",
            },
        ]
        rows[1]["product_options"] = [
            {"display_name": "Name on mug", "display_value": "Ada", "type": "Multiple choice"}
        ]
        lines = ADAPTER.map_order(self.store, raw).order.line_items
        assert [line.buyer_personalization for line in lines] == ["Happy\nbirthday\nGold script", None]
        only_names = self.store.model_copy(update={"buyer_text_keys": ["Name on mug"]})
        assert [line.buyer_personalization for line in ADAPTER.map_order(only_names, raw).order.line_items] == [
            "Happy\nbirthday",
            "Ada",
        ]

    def test_an_embedded_shipping_address_is_read_and_variants_and_zones_are_kept(self) -> None:
        raw = whole({**bc("order_get_v2.json"), "date_created": "Tue, 05 Mar 2019 22:40:11 +0100"})
        raw["shipping_addresses"] = [
            {
                "first_name": "Trish",
                "last_name": "Smith",
                "street_1": "666 Sussex St",
                "city": "Austin",
                "state": "Texas",
                "zip": "78751",
                "country_iso2": "US",
            }
        ]
        raw["products"] = [{**raw["products"][0], "variant_id": 12}]
        order = ADAPTER.map_order(self.store, raw).order
        assert order.placed_at == datetime(2019, 3, 5, 21, 40, 11, tzinfo=UTC)
        assert (order.shipping_address.name, order.shipping_address.postal_code) == ("Trish Smith", "78751")
        assert order.line_items[0].variant_id == "12"

    def test_the_signing_key_is_base64_of_the_client_secret(self) -> None:
        assert base64.b64decode(signature.key_for(SECRET)) == SECRET.encode()

    def test_the_sandbox_s_thin_webhook_names_the_order_under_its_documented_scope(self) -> None:
        state = SandboxState(store=self.store)
        raw = SANDBOX.new_order(state, OrderSpec(items=[ItemSpec(buyer_text="Ada")]))
        payload = json.loads(SANDBOX.webhook(state, raw, "created", thin=False)[1])
        assert payload["scope"] == "store/order/created" and payload["data"] == {"type": "order", "id": raw["id"]}

    def test_sandbox_orders_map_as_placed_and_a_repeated_event_keeps_its_hash(self) -> None:
        state = SandboxState(store=self.store)
        raw = SANDBOX.new_order(state, OrderSpec(items=[ItemSpec(quantity=2, buyer_text="Ada")], test=True, paid=False))
        order = ADAPTER.map_order(self.store, {**raw, "products": raw["_products"]}).order
        assert (order.payment_status, order.is_test, order.total) == ("unpaid", True, "41.00")  # 2 x 14.50 + 12
        assert (order.line_items[0].unit_price, order.line_items[0].buyer_personalization) == ("14.50", "Ada")
        first, again = (json.loads(SANDBOX.webhook(state, raw, "created", thin=True)[1]) for _ in range(2))
        assert first["hash"] == again["hash"] and len(first["hash"]) == 40
        SANDBOX.set_status(state, raw, "paid")
        changed = json.loads(SANDBOX.webhook(state, raw, "updated", thin=True)[1])
        assert changed["scope"] == "store/order/statusUpdated"
        assert changed["data"]["status"] == {"previous_status_id": 7, "new_status_id": 11}
