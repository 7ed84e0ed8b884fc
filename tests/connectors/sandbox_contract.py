"""The platform contract, sandbox half: the connector and the platform's sandbox understand each other.

A sandbox is written from the platform's docs and a connector from the same docs, separately; these
tests hold both to one reading: the sandbox signs as the docs say (checked by the platform file's own
signer), pages as the platform pages, and serves orders that map as they were placed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.platform import FullOrder, OrderRef
from plumbing.config import StoreConfig
from sandboxes.base import Faults, ItemSpec, OrderSpec, SandboxState, make_sandbox_app
from tests.connectors.platform_case import PlatformCase

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class SandboxContract(PlatformCase):
    sandbox_store: ClassVar[StoreConfig | None] = None  # a store the sandbox signs for, where `store` cannot be
    webhooks_carry_the_order: ClassVar[bool]  # full orders (WooCommerce, Wix) or a reference to fetch
    seeded_payments: ClassVar[tuple[str, ...]]  # the payment status of each order the sandbox starts with
    placed = 150  # orders placed for the paging test
    polled_pages: ClassVar[tuple[int, ...]]  # page sizes the connector hands on for them and the seeded ones

    def check_signature(self, headers: dict[str, str], body: bytes) -> None:
        """Asserts the sandbox signed `body` as the platform's docs say (the platform file's own computation)."""
        raise NotImplementedError

    @property
    def served_store(self) -> StoreConfig:
        return self.sandbox_store or self.store

    def sandbox_app(self) -> tuple[FastAPI, SandboxState, httpx.ASGITransport]:
        app = make_sandbox_app(self.sandbox, self.served_store)
        return app, app.state.sandbox, httpx.ASGITransport(app=app)

    def placed_order(self, state: SandboxState, spec: OrderSpec | None = None) -> dict[str, Any]:
        raw = self.sandbox.new_order(state, spec or OrderSpec())
        state.orders[self.sandbox.order_id(raw)] = raw
        return raw

    # --- webhooks -------------------------------------------------------------------------------------

    def test_the_sandbox_signs_its_webhooks_as_the_platform_documents(self) -> None:
        state = SandboxState(store=self.served_store)
        raw = self.placed_order(state)
        headers, body = self.sandbox.webhook(state, raw, "created", thin=False)
        self.check_signature(headers, body)
        self.adapter.verify_webhook(self.served_store, httpx.Headers(headers), body)
        expected = FullOrder(raw) if self.webhooks_carry_the_order else OrderRef(self.sandbox.order_id(raw))
        assert self.adapter.read_webhook(self.served_store, httpx.Headers(headers), body) == expected

    def test_the_sandbox_s_unsigned_delivery_is_refused(self) -> None:
        state = SandboxState(store=self.served_store)
        headers, body = self.sandbox.unsigned_webhook(state, self.placed_order(state), "created")
        with pytest.raises(InvalidSignatureError):
            self.adapter.verify_webhook(self.served_store, httpx.Headers(headers), body)

    def test_a_body_the_sandbox_signs_is_verified_and_unreadable(self) -> None:
        state = SandboxState(store=self.served_store)
        headers, body = self.sandbox.sign_raw(state, b'{"unexpected": true}', "created")
        self.adapter.verify_webhook(self.served_store, httpx.Headers(headers), body)
        with pytest.raises(UnreadableWebhookError):
            self.adapter.read_webhook(self.served_store, httpx.Headers(headers), body)

    # --- the API ----------------------------------------------------------------------------------------

    async def test_the_connector_polls_the_sandbox_to_its_last_order_oldest_first(self) -> None:
        _, state, transport = self.sandbox_app()
        for _ in range(self.placed):
            self.placed_order(state)
        pages = await self.poll(EPOCH, transport, self.served_store)
        assert tuple(len(page) for page in pages) == self.polled_pages
        polled = [raw for page in pages for raw in page]
        assert sorted(self.sandbox.order_id(raw) for raw in polled) == sorted(state.orders)  # each once
        modified = [self.adapter.map_order(self.served_store, raw).modified_at for raw in polled]
        assert modified == sorted(modified)

    async def test_a_sandbox_order_is_fetched_and_maps_as_placed(self) -> None:
        _, state, transport = self.sandbox_app()
        mug = ItemSpec(quantity=2, buyer_text="Ada")
        tote = ItemSpec(product_id="7", title="Plain tote", price="9.00")
        raw = self.placed_order(
            state, OrderSpec(items=[mug, tote], customer_name="Grace Hopper", customer_email="grace@example.com")
        )
        order_id = self.sandbox.order_id(raw)
        order = self.adapter.map_order(
            self.served_store, await self.fetch(order_id, transport, self.served_store)
        ).order
        assert (order.platform_order_id, order.payment_status, order.cancelled) == (order_id, "paid", False)
        assert (order.customer.name, order.customer.email) == ("Grace Hopper", "grace@example.com")
        assert [(line.quantity, line.unit_price, line.buyer_personalization) for line in order.line_items] == [
            (2, "14.50", "Ada"),
            (1, "9.00", None),
        ]

    async def test_the_sandbox_s_documented_orders_are_fetched_and_mapped(self) -> None:
        _, state, transport = self.sandbox_app()
        fetched = [await self.fetch(order_id, transport, self.served_store) for order_id in state.seeded]
        orders = [self.adapter.map_order(self.served_store, raw).order for raw in fetched]
        assert [order.platform_order_id for order in orders] == state.seeded
        assert tuple(order.payment_status for order in orders) == self.seeded_payments

    async def test_the_sandbox_s_rate_limits_and_server_errors_are_ridden_out(self) -> None:
        _, state, transport = self.sandbox_app()
        state.faults = Faults(rate_limit=2, server_error=1, retry_after=0.01)
        (first, *_) = state.seeded
        assert self.sandbox.order_id(await self.fetch(first, transport, self.served_store)) == first
        assert (state.faults.rate_limit, state.faults.server_error) == (0, 0)
