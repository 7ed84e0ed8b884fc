"""What the script actually did to each order, and the status (and fulfillment) core must reach because of it.

The expectation follows docs/architecture.md, "Core's rules": cancelled or
refunded → `cancelled`; never paid → no status (and a platform may hide it
from the poll); a personalizable line → `pending_personalization` until the
customer completes; then, or with nothing to personalize, an automatic store
fulfills at once unless it is a test order; otherwise `pending_approval`
until the merchant approves, then `in_fulfillment`. Under `ship_plain_items_now`
a mixed order's plain lines go to fulfillment (part `plain_items`) as soon as it
waits for personalization, the rest (`personalized_items`) when it is fulfilled.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from soak.config import SoakStore
from soak.observe import Link
from soak.plan import OrderPlan

AWAITING_PAYMENT = None  # core keeps the order without a public status


@dataclass
class OrderRun:
    plan: OrderPlan
    store: SoakStore
    order_id: str | None = None
    placement: dict | None = None  # the platform's JSON when placed (replayed late as a stale webhook)
    place_error: str | None = None
    paid: bool = False
    cancelled: str | None = None  # cancelled | refunded, once done on the platform
    completed: bool = False  # the customer saw "thank you" (or "already personalized" after a retry)
    approvals: int = 0  # ApproveOrder commands the merchant published
    customer_notes: list[str] = field(default_factory=list)  # what went wrong for the customer
    customer_done: bool = False
    emailed: dict[str, Link] = field(default_factory=dict)  # link id → link, as they arrive by email
    new_email: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def key(self) -> str:
        assert self.order_id is not None
        return self.store.order_key(self.order_id)

    @property
    def placed(self) -> bool:
        return self.order_id is not None

    def newest_link(self) -> Link | None:
        return max(self.emailed.values(), key=lambda link: link.sequence, default=None)

    def expected_status(self) -> str | None:
        if self.cancelled:
            return "cancelled"
        if not self.paid:
            return AWAITING_PAYMENT
        if self.plan.personalizable and not self.completed:
            return "pending_personalization"
        if self.store.approval == "automatic" and not self.plan.test:
            return "in_fulfillment"
        return "in_fulfillment" if self.approvals else "pending_approval"

    def expected_parts(self) -> dict[str, set[int]]:
        """How many `FulfillmentRequested` of each part the order may have (any part not named: none)."""
        split = self.store.mixed_orders == "ship_plain_items_now" and self.plan.kind == "mixed" and not self.plan.test
        status = self.expected_status()
        if status == "in_fulfillment":
            return {"plain_items": {1}, "personalized_items": {1}} if split else {"whole_order": {1}}
        if split and status in ("pending_personalization", "pending_approval"):
            return {"plain_items": {1}}
        if split and status == "cancelled" and self.paid:  # shipped or not, depending on what core saw first
            return {"plain_items": {0, 1}}
        return {}

    def may_be_unseen(self) -> bool:
        """Never paid nor cancelled: a platform may show such an order to nobody (Wix hides it from Search)."""
        return not self.paid and not self.cancelled

    def intentions_left(self, status: str | None) -> list[str]:
        """What the script still means to do, given core's current status (the drain waits for none)."""
        left = []
        if self.plan.customer in ("complete", "reissue") and not self.customer_done:
            left.append("customer")
        wants_approval = self.plan.approve and self.paid and not self.cancelled and not self.approvals
        if wants_approval and (
            status in ("", "pending_approval") or (status == "pending_personalization" and "customer" in left)
        ):
            left.append("merchant")
        return left
