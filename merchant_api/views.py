"""What the API answers: views of core's order record, shaped for a merchant rather than for core's bookkeeping."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.order import LinkState, Order
from core.store import store_of
from plumbing.config import TemplateConfig
from schemas import Address, CompletedItem, Customer, FulfillmentPart, LineItem, LinkRecipient, OrderStatus

# A route's documented answers by status code, as FastAPI's `responses=` takes them.
Responses = dict[int | str, dict[str, Any]]

STORE_DESCRIPTION = "`<platform>:<store_id>` as in the config, e.g. `woocommerce:demo-woo`."


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class Problem(View):
    detail: str = Field(examples=["cannot approve an order that is cancelled"])


# For the few routes without parameters of their own, whose 422 FastAPI does not document (unknown query names).
UNKNOWN_QUERY: Responses = {
    422: {
        "description": "A query parameter the route does not take.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
    }
}


class StatusChange(View):
    from_status: OrderStatus | None
    to_status: OrderStatus
    reason: str
    at: datetime


class LinkView(View):
    link_id: str
    sequence: int
    state: Literal["issued", "opened", "expired", "completed", "pending"] = Field(
        description="What happened to the link last: `pending` until the notifier's issue event is recorded."
    )
    recipient: LinkRecipient | None
    issued_at: datetime | None
    expires_at: datetime | None
    opened_at: datetime | None
    expired_at: datetime | None
    reminders_sent: int
    reminded_at: list[datetime]
    completed_at: datetime | None


class FulfillmentView(View):
    part: FulfillmentPart
    line_ids: list[str]
    at: datetime
    event_id: str = Field(description="The `FulfillmentRequested` event's id.")


class OrderSummary(View):
    order_key: str
    store: str = Field(description=STORE_DESCRIPTION)
    order_number: str
    status: OrderStatus | None = Field(description="Null while the order waits for payment.")
    is_test: bool
    received_at: datetime
    placed_at: datetime
    customer_name: str
    total: str
    currency: str
    lines_to_personalize: int


class OrderDetail(OrderSummary):
    payment_status: str
    customer: Customer
    shipping_address: Address | None
    items: list[LineItem]
    personalize_lines: list[str] = Field(description="Line ids that need (or got) the customer's personalization.")
    history: list[StatusChange]
    links: list[LinkView] = Field(description="Oldest first; the last one is the link the customer should use.")
    personalization: list[CompletedItem]
    personalized_at: datetime | None
    fulfillments: list[FulfillmentView] = Field(description="Parts sent to fulfillment, oldest first.")


class OrderPage(View):
    orders: list[OrderSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class CommandBody(View):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str | None = Field(default=None, max_length=500, examples=["customer asked by phone"])


class CommandAccepted(View):
    command: Literal["ApproveOrder", "CancelOrder", "ResendLink"]
    event_id: str = Field(description="The command event's id on `orders.commands`; core dedupes on it.")
    order_key: str


class TemplateView(TemplateConfig):
    id: str
    owner: str | None = Field(description="The store that owns it, or null: shared by every store.")


def summary(order: Order) -> OrderSummary:
    return OrderSummary(**_summary_fields(order))


def detail(order: Order) -> OrderDetail:
    snapshot = order.snapshot
    return OrderDetail(
        **_summary_fields(order),
        payment_status=snapshot.payment_status,
        customer=snapshot.customer,
        shipping_address=snapshot.shipping_address,
        items=snapshot.line_items,
        personalize_lines=order.personalize_lines,
        history=[
            StatusChange(from_status=h.from_status, to_status=h.to_status, reason=h.reason, at=h.at)
            for h in order.history
        ],
        links=[_link(link) for link in order.links],
        personalization=order.personalization,
        personalized_at=order.personalized_at,
        fulfillments=[
            FulfillmentView(part=f.part, line_ids=f.line_ids, at=f.at, event_id=f.event_id) for f in order.fulfillments
        ],
    )


def _summary_fields(order: Order) -> dict:
    snapshot = order.snapshot
    return {
        "order_key": order.order_key,
        "store": store_of(order),
        "order_number": snapshot.order_number,
        "status": order.status,
        "is_test": snapshot.is_test,
        "received_at": order.received_at,
        "placed_at": snapshot.placed_at,
        "customer_name": snapshot.customer.name,
        "total": str(snapshot.total),
        "currency": snapshot.currency,
        "lines_to_personalize": len(order.personalize_lines),
    }


def _link(link: LinkState) -> LinkView:
    return LinkView(
        link_id=link.link_id,
        sequence=link.sequence,
        state=_link_state(link),
        recipient=link.recipient,
        issued_at=link.issued_at,
        expires_at=link.expires_at,
        opened_at=link.opened_at,
        expired_at=link.expired_at,
        reminders_sent=len(link.reminders),
        reminded_at=[r.at for r in link.reminders],
        completed_at=link.completed_at,
    )


def _link_state(link: LinkState) -> str:
    for state, at in (
        ("completed", link.completed_at),
        ("expired", link.expired_at),
        ("opened", link.opened_at),
        ("issued", link.issued_at),
    ):
        if at is not None:
            return state
    return "pending"
