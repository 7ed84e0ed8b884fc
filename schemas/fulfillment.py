"""`fulfillment.requested`: an order ready to produce, with its personalization."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.envelope import Event
from schemas.orders import Address, LineItem, Platform
from schemas.personalization import CompletedItem


class FulfillmentLine(LineItem):
    personalization: CompletedItem | None = Field(
        default=None, description="What the customer gave for this line; null for a plain line or an approved override."
    )


FulfillmentPart = Literal["whole_order", "plain_items", "personalized_items"]


class FulfillmentRequested(Event):
    """Lines of the order ready to produce: all of them, or one part under `ship_plain_items_now`."""

    event_type: Literal["FulfillmentRequested"] = "FulfillmentRequested"
    platform: Platform
    store_id: str
    order_number: str
    is_test: bool = False
    shipping_address: Address | None = None
    part: FulfillmentPart = Field(
        default="whole_order",
        description="`whole_order`, or under a store's `ship_plain_items_now` policy `plain_items` (sent at once) "
        "and later `personalized_items`.",
    )
    line_items: list[FulfillmentLine] = Field(min_length=1)
