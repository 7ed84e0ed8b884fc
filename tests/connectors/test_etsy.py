"""Etsy: the platform contract on receipts built to Etsy's OAS, and its quirks (the OAS's fields only, older
timestamp names, personalization answers, signatures in runs of spaces, offset paging from 2000 on).

Etsy publishes no example receipt, so `receipt()` is one built to the field names and types of its
official OAS (`samples/etsy_receipt.json`), and a test holds it (and the sandbox's receipts) to that schema.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.etsy import ADAPTER
from connectors.etsy.signature import sign
from connectors.platform import NothingToDo, OrderRef, WebhookNote
from sandboxes.base import OrderSpec, SandboxState
from sandboxes.etsy import SANDBOX
from schemas import BuyerAnswer, OrderReceived, encode
from tests.connectors.platform_case import built_sample, sample, sample_bytes
from tests.connectors.standard_webhooks import (
    VECTOR_BODY,
    VECTOR_ID,
    VECTOR_SECRET,
    VECTOR_TS,
    StandardWebhooksContract,
)
from tests.connectors.stores.etsy import BASE, UNIT

OAS = sample("etsy", "oas_shop_receipt_schemas.json")["components"]["schemas"]
SHOPS = f"{BASE}/v3/application/shops"
OPENAPI = "https://openapi.etsy.com/v3/application/shops"  # the same API under its other documented host
RECEIPTS = f"{SHOPS}/12345/receipts"


def money(amount: int, divisor: int = 100, currency: str = "EUR") -> dict:
    return {"amount": amount, "divisor": divisor, "currency_code": currency}


def receipt(**over: Any) -> dict:
    return {**built_sample("etsy_receipt.json"), **over}


def transaction(tid: int = 2001, **over: Any) -> dict:
    return {**built_sample("etsy_receipt.json")["transactions"][0], "transaction_id": tid, **over}


def personalization(text: str, name: str = "Personalization", property_id: int = 54) -> dict:
    return {"property_id": property_id, "value_id": None, "formatted_name": name, "formatted_value": text}


class TestEtsy(StandardWebhooksContract):
    adapter, sandbox = ADAPTER, SANDBOX
    store = UNIT

    variations = (
        *(
            ({"status": status, "is_paid": is_paid}, {"payment_status": payment, "cancelled": cancelled})
            for status, is_paid, payment, cancelled in [
                ("paid", True, "paid", False),
                ("completed", True, "paid", False),
                ("open", False, "unpaid", False),
                ("payment processing", False, "unpaid", False),
                ("canceled", False, "unpaid", True),
                ("canceled", True, "paid", True),
                ("fully refunded", True, "refunded", False),
                ("partially refunded", True, "paid", False),
                ("Paid", False, "paid", False),
                ("Canceled", False, "unpaid", True),
            ]
        ),
        # Money is amount over divisor, as a decimal string.
        *(
            ({"grandtotal": value}, {"total": total})
            for value, total in [
                (money(1450), "14.50"),
                (money(0), "0.00"),
                (money(-500), "-5.00"),
                (money(1450, 1, "JPY"), "1450"),
                (money(12345, 1000, "KWD"), "12.345"),
            ]
        ),
    )
    broken = (
        {"receipt_id": 1},
        receipt(transactions=[]),
        receipt(receipt_id=None),
        receipt(grandtotal=money(0, 0)),
        receipt(grandtotal={"amount": 14.5, "divisor": 100, "currency_code": "EUR"}),
        receipt(grandtotal=None),
        receipt(created_timestamp=None, create_timestamp=None),
        receipt(transactions=[transaction(price=None)]),
        receipt(transactions=["not a transaction"]),
    )

    other_secret = "whsec_" + base64.b64encode(b"another key" * 3).decode()
    unusable_secrets = (("whsec_", "not whsec_<base64>"),)
    reads = (
        ({"event_type": "order.paid", "resource_url": f"{RECEIPTS}/77", "shop_id": "12345"}, OrderRef("77")),
        (
            {"event_type": "ORDER_PAID", "resource_url": f"{OPENAPI}/12345/receipts/78", "shop_id": 12345},
            OrderRef("78"),
        ),
        (
            {"event_type": "order.paid", "resource_url": f"{SHOPS}/999/receipts/79", "shop_id": 999},
            NothingToDo("receipt of shop 999, not of this store's shop 12345"),
        ),
        (
            {"event_type": "listing.updated", "resource_url": "x", "shop_id": 1},
            NothingToDo("event listing.updated is not about orders"),
        ),
    )
    unreadable = (
        b"<html>",
        b"[]",
        b'{"unexpected": true}',
        {"event_type": "order.paid"},
        {"event_type": "order.paid", "resource_url": "https://evil.example/v3/application/shops/12345/receipts/1"},
        {"event_type": "order.paid", "resource_url": f"{SHOPS}/12345/listings/1"},
    )

    webhooks_carry_the_order = False
    seeded_payments = ("paid", "paid")  # paid, and shipped (completed)
    polled_pages = (100, 52)

    def documented_order(self) -> dict:
        return receipt()

    def sample_payload(self) -> bytes:
        return sample_bytes("etsy", "webhook_order_paid.json")

    def sample_note(self) -> WebhookNote:
        return OrderRef("54321")

    def key(self, secret: str) -> bytes:
        return base64.b64decode(secret.removeprefix("whsec_"))

    def sign_vector(self) -> str:
        return sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY)

    def verify_vector(self, headers: dict[str, str], body: bytes) -> None:
        store = self.store.model_copy(update={"webhook_secret": VECTOR_SECRET})
        ADAPTER.verify_webhook(store, httpx.Headers(headers), body)

    # --- quirks -----------------------------------------------------------------------------------------

    def test_receipts_here_and_in_the_sandbox_use_only_the_oas_fields(self) -> None:
        state = SandboxState(store=self.store)
        for raw in [receipt(), *SANDBOX.seed(state), SANDBOX.new_order(state, OrderSpec())]:
            assert set(raw) <= set(OAS["ShopReceipt"]["properties"])
            for t in raw["transactions"]:
                assert set(t) <= set(OAS["ShopReceiptTransaction"]["properties"])
                assert all(set(v) <= set(OAS["TransactionVariations"]["properties"]) for v in t["variations"])
                assert set(t["price"]) == set(OAS["Money"]["properties"])

    def test_a_hidden_email_an_absent_address_and_the_older_timestamp_names_still_map(self) -> None:
        raw = receipt(buyer_email=None, first_line=None, second_line=None, city=None, zip=None, country_iso=None)
        for key in ("created_timestamp", "updated_timestamp"):
            del raw[key]
        order = ADAPTER.map_order(self.store, raw).order
        assert order.customer.email is None and order.shipping_address is None
        assert order.placed_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

    def test_buyer_text_is_every_personalization_answer_kept_with_its_question(self) -> None:
        variations = [
            {"property_id": 200, "value_id": 1, "formatted_name": "Color", "formatted_value": "White"},
            personalization("Ada &amp; Grace"),
            personalization("O&#039;Neil", name="Second name"),
            personalization("Not requested on this item."),
        ]
        lines = [
            transaction(1, variations=variations),
            transaction(2, variations=[personalization("For Bob", name="ENGRAVING", property_id=513)]),
            transaction(3, variations=[personalization("Not requested on this item.")]),
            transaction(4, quantity=0),
        ]
        order = ADAPTER.map_order(self.store, receipt(transactions=lines)).order
        assert [line.buyer_personalization for line in order.line_items] == [
            "Personalization: Ada & Grace\nSecond name: O'Neil",
            "For Bob",  # one answer alone is as the buyer typed it: it prefills the editor's field
            None,
        ]
        assert [len(line.buyer_answers) for line in order.line_items] == [2, 1, 0]
        only_names = self.store.model_copy(update={"buyer_text_keys": ["Name on mug"]})
        (line,) = ADAPTER.map_order(only_names, receipt(transactions=lines[1:2])).order.line_items
        assert line.buyer_personalization is None and line.buyer_answers == []

    def test_up_to_five_personalization_questions_keep_their_labels(self) -> None:
        """Etsy's multi-question personalization: one property-54 variation per question, named by the seller's
        question text. Joined without their labels, five answers could not be told apart."""
        asked = [
            ("Name on the mug", "Ada"),
            ("Font", "Serif"),
            ("Colour of the text", "Gold"),
            ("Date", "10/12/1815"),
            ("Photo", "https://www.etsy.com/personalization/file/123"),
        ]
        lines = [transaction(1, variations=[personalization(a, name=q) for q, a in asked])]
        (line,) = ADAPTER.map_order(self.store, receipt(transactions=lines)).order.line_items
        assert line.buyer_answers == [BuyerAnswer(question=q, answer=a) for q, a in asked]
        assert line.buyer_personalization == "\n".join(f"{q}: {a}" for q, a in asked)

    def test_an_event_of_before_buyer_answers_still_validates(self) -> None:
        """Old consumers and old events: `buyer_answers` has a default, so a line without it is still valid."""
        asked = [personalization("Ada", name="Name"), personalization("Serif", name="Font")]
        order = ADAPTER.map_order(self.store, receipt(transactions=[transaction(1, variations=asked)])).order
        assert len(json.loads(encode(order))["line_items"][0]["buyer_answers"]) == 2
        old = json.loads(encode(order))
        for line in old["line_items"]:
            del line["buyer_answers"]
        assert OrderReceived.model_validate(old).line_items[0].buyer_answers == []
        # An order without answers is on the wire as before the field: readers of before it accept it.
        assert (
            "buyer_answers" not in json.loads(encode(ADAPTER.map_order(self.store, receipt()).order))["line_items"][0]
        )

    async def test_the_sandbox_s_seeded_receipt_asks_two_questions_and_both_are_kept(self) -> None:
        _, state, transport = self.sandbox_app()
        raw = await self.fetch(state.seeded[0], transport, self.served_store)
        mug = ADAPTER.map_order(self.served_store, raw).order.line_items[0]
        assert mug.buyer_answers == [
            BuyerAnswer(question="Names on the mug", answer="Ada & Grace"),
            BuyerAnswer(question="Font", answer="Serif"),
        ]

    def test_several_signatures_in_the_header_pass_when_one_matches(self) -> None:
        good, signed = self.deliver(b'{"event_type": "order.paid"}')
        mixed = f"v1a,c29tZXRoaW5n   v1,{base64.b64encode(b'x' * 32).decode()} {good['webhook-signature']}"
        ADAPTER.verify_webhook(self.store, httpx.Headers({**good, "webhook-signature": mixed}), signed)

    def test_the_sandbox_s_webhook_names_the_receipt_as_etsy_s_body_does(self) -> None:
        state = SandboxState(store=self.store)
        raw = SANDBOX.new_order(state, OrderSpec())
        _, sent = SANDBOX.webhook(state, raw, "created", thin=True)
        assert json.loads(sent) == {
            "event_type": "order.paid",
            "shop_id": 12345,
            "resource_url": f"{RECEIPTS}/{raw['receipt_id']}",
        }
