"""Wix: the platform contract on the documented order shape, and its quirks (buyer text from custom text
fields, street-part addresses, a bare public key, the Search Orders cursor, unpaid online orders hidden).

The order follows the Search Orders and Order Approved examples of the Wix REST docs
(`samples/wix_order.json`); tokens are built and checked by `wix_tokens.py`, not with the sandbox's code.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest

from connectors.platform import FullOrder, NothingToDo, OrderRef, WebhookNote
from connectors.wix import ADAPTER
from sandboxes.base import OrderSpec
from sandboxes.wix import SANDBOX
from tests.connectors.contract import Delivery, PlatformContract
from tests.connectors.stores.wix import STORE as E2E
from tests.connectors.stores.wix import UNIT
from tests.connectors.wix_tokens import (
    CARRIERS,
    KEY,
    OTHER_KEY,
    PUBLIC_PEM,
    claims,
    documented_order,
    event,
    hs256_with_the_public_key,
    nested,
    swap_payload,
    token,
    verify_rs256,
)


class TestWix(PlatformContract):
    adapter, sandbox = ADAPTER, SANDBOX
    store = UNIT
    # The sandbox signs with the dev-only private key (devstack/keys/README.md).
    sandbox_store = store.model_copy(
        update={"credentials": E2E["credentials"], "webhook_secret": E2E["webhook_secret"]}
    )

    variations = tuple(
        ({"status": status, "paymentStatus": payment}, {"payment_status": paid, "cancelled": cancelled})
        for status, payment, paid, cancelled in [
            ("APPROVED", "PAID", "paid", False),
            ("APPROVED", "NOT_PAID", "unpaid", False),
            ("APPROVED", "PENDING", "unpaid", False),
            ("APPROVED", "PARTIALLY_PAID", "unpaid", False),
            ("APPROVED", "PARTIALLY_REFUNDED", "unpaid", False),
            ("APPROVED", "FULLY_REFUNDED", "refunded", False),
            ("CANCELED", "NOT_PAID", "unpaid", True),
            ("INITIALIZED", "PAID", "unpaid", False),
        ]
    )
    broken = (
        {"id": "x"},
        {**documented_order(), "lineItems": []},
        {**documented_order(), "createdDate": None},
        {**documented_order(), "priceSummary": {"total": {"amount": "lots", "formattedAmount": "$lots"}}},
        {**documented_order(), "lineItems": [{"id": "1", "quantity": 1}]},
    )

    signature_header = None  # the token is the body: no header carries anything we read
    other_secret = OTHER_KEY
    forgeries = (
        pytest.param(lambda t, h, b: (h, jwt.encode({"data": "{}"}, None, algorithm="none").encode()), id="alg none"),
        pytest.param(lambda t, h, b: (h, hs256_with_the_public_key()), id="HMAC keyed with the public key"),
        pytest.param(lambda t, h, b: t.deliver({"data": "{}", "exp": int(time.time()) - 3600}), id="expired"),
        pytest.param(lambda t, h, b: (h, swap_payload(b)), id="another payload under this signature"),
        pytest.param(lambda t, h, b: (h, b + b"x"), id="a character appended"),
        pytest.param(lambda t, h, b: (h, b'{"data": "not a jwt"}'), id="not a JWT"),
    )
    unusable_secrets = (("not a key", None),)
    reads = (
        *(
            (claims(event(slug, **carry(documented_order()))), FullOrder(documented_order()))
            for slug, carry in CARRIERS.items()
        ),
        (claims(event("canceled", actionEvent={})), OrderRef("6f759095")),  # no order: its id
        (claims({**event("created"), "entityFqdn": "wix.stores.v1.product"}), NothingToDo),
    )
    unreadable = (  # claims with broken nesting
        {"data": {"eventType": "x"}},
        {"data": "not json"},
        {"data": json.dumps({"data": "{"})},
        nested(["a"]),
        nested({"unexpected": True}),
        nested({**event("created"), "entityId": None}),
        nested(event("created", createdEvent={"entity": "an order"})),
    )
    reading_verifies = True

    webhooks_carry_the_order = True
    seeded_payments = ("paid", "paid")
    polled_pages = (100, 52)

    def documented_order(self) -> dict:
        return documented_order()

    def deliver(self, payload: Any, headers: dict[str, str] | None = None, secret: Any = None) -> Delivery:
        return dict(headers or {}), token(payload, secret or KEY)

    def sample_payload(self) -> dict:
        return claims(event("created", **CARRIERS["created"](documented_order())))

    def sample_note(self) -> WebhookNote:
        return FullOrder(documented_order())

    def check_signature(self, headers: dict[str, str], body: bytes) -> None:
        verify_rs256(body, E2E["webhook_secret"])

    # --- quirks -----------------------------------------------------------------------------------------

    def test_buyer_text_prefers_the_fields_the_store_names(self) -> None:
        raw = documented_order()
        raw["lineItems"][0]["catalogReference"]["options"]["customTextFields"] = {
            "Gift note": "Hi",
            "Engraving": "For Ada",
        }
        assert ADAPTER.map_order(self.store, raw).order.line_items[0].buyer_personalization == "For Ada"
        unnamed = self.store.model_copy(update={"buyer_text_keys": ["Name on mug"]})
        assert ADAPTER.map_order(unnamed, raw).order.line_items[0].buyer_personalization == "Hi\nFor Ada"

    def test_address_falls_back_to_street_parts_and_is_absent_for_pickup(self) -> None:
        raw = documented_order()
        raw["shippingInfo"]["logistics"]["shippingDestination"]["address"] = {
            "country": "DE",
            "subdivision": "DE-BE",
            "city": "Berlin",
            "streetAddress": {"number": "5", "name": "Unter den Linden", "apt": "2"},
        }
        ship = ADAPTER.map_order(self.store, raw).order.shipping_address
        assert (ship.line1, ship.line2, ship.region) == ("5 Unter den Linden", "2", "BE")
        raw["shippingInfo"] = {"logistics": {"pickupDetails": {"address": {"city": "Berlin"}}}}
        assert ADAPTER.map_order(self.store, raw).order.shipping_address is None

    def test_the_key_may_be_given_without_pem_armour(self) -> None:
        bare = "".join(line for line in PUBLIC_PEM.splitlines() if "-----" not in line)
        headers, body = self.deliver(self.sample_payload())
        ADAPTER.verify_webhook(self.store.model_copy(update={"webhook_secret": bare}), httpx.Headers(headers), body)

    async def test_the_sandbox_hides_unpaid_online_orders_and_refuses_a_cursor_beside_a_filter(self) -> None:
        _, state, transport = self.sandbox_app()
        unpaid, paid = (self.placed_order(state, OrderSpec(paid=flag)) for flag in (False, True))
        pages = await self.poll(datetime(2000, 1, 1, tzinfo=UTC), transport, self.served_store)
        polled = {raw["id"] for page in pages for raw in page}
        assert paid["id"] in polled and unpaid["id"] not in polled  # INITIALIZED is not searchable
        repeated = {"search": {"filter": {}, "cursorPaging": {"cursor": "x"}}}
        async with httpx.AsyncClient(
            transport=transport, base_url=UNIT.base_url, headers=ADAPTER.headers(self.served_store)
        ) as http:
            assert (await http.post("/ecom/v1/orders/search", json=repeated)).status_code == 400
