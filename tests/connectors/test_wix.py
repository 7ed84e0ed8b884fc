"""Wix: the platform contract on the documented order shape, and its quirks (buyer text from custom text
fields, street-part addresses, a bare public key, the Search Orders cursor, unpaid online orders hidden,
paging in `metadata`, every entity form, young tokens bound to their site).

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

from connectors.errors import InvalidSignatureError
from connectors.platform import FullOrder, NothingToDo, OrderRef, WebhookNote
from connectors.wix import ADAPTER
from connectors.wix.signature import MAX_AGE_S
from sandboxes.base import OrderSpec, SandboxState
from sandboxes.wix import ENTITY_FORMS, SANDBOX
from schemas import BuyerAnswer
from tests.connectors.contract import Delivery, PlatformContract
from tests.connectors.stores.wix import STORE as E2E
from tests.connectors.stores.wix import UNIT
from tests.connectors.wix_tokens import (
    CARRIERS,
    INSTANCE,
    KEY,
    OTHER_INSTANCE,
    OTHER_KEY,
    PUBLIC_PEM,
    bare_token,
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
            ("APPROVED", "PARTIALLY_REFUNDED", "paid", False),
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
        pytest.param(lambda t, h, b: (h, bare_token(t.sample_payload())), id="no iat, no exp: valid forever"),
        pytest.param(
            lambda t, h, b: (h, bare_token({**t.sample_payload(), "exp": int(time.time()) + 300})), id="no iat"
        ),
        pytest.param(
            lambda t, h, b: (h, bare_token({**t.sample_payload(), "iat": int(time.time()) - 90 * 86400})),
            id="issued 90 days ago",
        ),
        pytest.param(
            lambda t, h, b: (h, token({**t.sample_payload(), "iat": int(time.time()) - MAX_AGE_S - 120})),
            id="issued over 5 minutes ago, exp still ahead",
        ),
        pytest.param(
            lambda t, h, b: (h, token({**t.sample_payload(), "iat": int(time.time()) + 3600})),
            id="issued in the future",
        ),
        pytest.param(
            lambda t, h, b: (
                h,
                token(claims(event("created", **CARRIERS["created"](documented_order())), OTHER_INSTANCE)),
            ),
            id="another site of the same app",
        ),
        pytest.param(lambda t, h, b: (h, token({"data": json.dumps({"data": "{}"})})), id="names no site"),
        pytest.param(lambda t, h, b: (h, token({"data": {"instanceId": INSTANCE}})), id="claim data not a string"),
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
    unreadable = (  # claims with broken nesting (a claim `data` that names no site is refused: see `forgeries`)
        {"data": json.dumps({"instanceId": INSTANCE, "data": "{"})},
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
        line = ADAPTER.map_order(unnamed, raw).order.line_items[0]
        assert line.buyer_personalization == "Gift note: Hi\nEngraving: For Ada"  # each text keeps its label
        assert line.buyer_answers == [
            BuyerAnswer(question="Gift note", answer="Hi"),
            BuyerAnswer(question="Engraving", answer="For Ada"),
        ]

    def test_a_partially_refunded_order_is_paid_not_left_waiting(self) -> None:
        raw = {**documented_order(), "status": "APPROVED", "paymentStatus": "PARTIALLY_REFUNDED"}
        assert ADAPTER.map_order(self.store, raw).order.payment_status == "paid"

    @pytest.mark.parametrize("form", ENTITY_FORMS)
    def test_every_documented_entity_form_of_the_order_is_read(self, form: str) -> None:
        state = SandboxState(store=self.served_store)
        raw = self.placed_order(state)
        slug = "created" if form.startswith("entity") else "updated" if form.startswith("current") else "approved"
        headers, body = SANDBOX.webhook_in_form(state, raw, slug, form)
        assert ADAPTER.read_webhook(self.served_store, httpx.Headers(headers), body) == FullOrder(raw)

    def test_an_old_or_iat_less_jwt_of_the_sandbox_is_refused(self) -> None:
        state = SandboxState(store=self.served_store)
        raw = self.placed_order(state)
        old = int(time.time()) - 90 * 86400
        headers, body = SANDBOX.webhook_in_form(state, raw, "created", "entityAsJson", issued_at=old)
        with pytest.raises(InvalidSignatureError, match=r"expired|issued"):
            ADAPTER.verify_webhook(self.served_store, httpx.Headers(headers), body)
        other_site = self.served_store.model_copy(
            update={"credentials": {**self.served_store.credentials, "instance_id": "another-site"}}
        )
        headers, body = SANDBOX.webhook(state, raw, "created", thin=False)
        with pytest.raises(InvalidSignatureError, match="another app instance"):
            ADAPTER.verify_webhook(other_site, httpx.Headers(headers), body)

    def test_a_store_without_an_instance_id_refuses_every_webhook(self) -> None:
        unbound = self.store.model_copy(update={"credentials": {"api_key": "k", "site_id": "s"}})
        headers, body = self.deliver(self.sample_payload())
        with pytest.raises(InvalidSignatureError, match="instance_id"):
            ADAPTER.verify_webhook(unbound, httpx.Headers(headers), body)

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
        async with httpx.AsyncClient(
            transport=transport, base_url=UNIT.base_url, headers=ADAPTER.headers(self.served_store)
        ) as http:
            first = (await http.post("/ecom/v1/orders/search", json={"search": {}})).json()
        assert "metadata" in first and "pagingMetadata" not in first  # the form the sandbox pages in
        repeated = {"search": {"filter": {}, "cursorPaging": {"cursor": "x"}}}
        async with httpx.AsyncClient(
            transport=transport, base_url=UNIT.base_url, headers=ADAPTER.headers(self.served_store)
        ) as http:
            assert (await http.post("/ecom/v1/orders/search", json=repeated)).status_code == 400

    async def test_250_orders_changed_inside_one_lookback_are_all_read(self) -> None:
        """Paging in `metadata`: reading only `pagingMetadata`, the poll saw page 1 again and again."""
        _, state, transport = self.sandbox_app()
        for _ in range(250):
            self.placed_order(state)
        changed = max(raw["updatedDate"] for raw in state.orders.values())
        for raw in state.orders.values():  # all changed in the same second: well inside a 10-minute lookback
            raw["updatedDate"] = changed
        since = datetime.fromisoformat(changed) - self.served_store.lookback
        pages = await self.poll(since, transport, self.served_store)
        assert [len(page) for page in pages] == [100, 100, 52]
        assert sorted(raw["id"] for page in pages for raw in page) == sorted(state.orders)
