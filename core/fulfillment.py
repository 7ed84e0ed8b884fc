"""Which lines go to fulfillment, and when: the whole order, or its plain lines first (`ship_plain_items_now`).

A line is handed to fulfillment once: the order remembers every part it sent
(`Order.fulfillments`), and a later part carries only the lines not sent yet.
"""

from __future__ import annotations

from datetime import datetime

from core.order import FulfillmentSent, Order
from schemas import FulfillmentLine, FulfillmentPart, FulfillmentRequested, LineItem


def unsent_lines(order: Order) -> list[LineItem]:
    sent = order.sent_lines
    return [line for line in order.snapshot.line_items if line.line_id not in sent]


def plain_lines(order: Order) -> list[LineItem]:
    """Lines nobody personalizes and no part carried yet."""
    waiting = set(order.personalize_lines)
    return [line for line in unsent_lines(order) if line.line_id not in waiting]


def remaining_part(order: Order) -> FulfillmentPart:
    return "personalized_items" if order.fulfillments else "whole_order"


def send(
    order: Order, lines: list[LineItem], part: FulfillmentPart, now: datetime
) -> tuple[Order, FulfillmentRequested]:
    """The event for `lines`, and the order remembering it sent them."""
    snapshot = order.snapshot
    given = {item.line_id: item for item in order.personalization}
    event = FulfillmentRequested(
        order_key=order.order_key,
        occurred_at=now,
        platform=snapshot.platform,
        store_id=snapshot.store_id,
        order_number=snapshot.order_number,
        is_test=snapshot.is_test,
        shipping_address=snapshot.shipping_address,
        part=part,
        line_items=[FulfillmentLine(**line.model_dump(), personalization=given.get(line.line_id)) for line in lines],
    )
    sent = FulfillmentSent(part=part, line_ids=[line.line_id for line in lines], at=now, event_id=event.event_id)
    return order.model_copy(update={"fulfillments": [*order.fulfillments, sent]}), event
