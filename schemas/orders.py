"""`orders.received`: a connector's normalized view of a platform order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import AwareDatetime, Field, field_validator, model_validator

from schemas.envelope import Event, Model, Money, order_key

Platform = Literal["etsy", "woocommerce", "wix", "squarespace", "bigcommerce"]
PLATFORMS: tuple[str, ...] = get_args(Platform)
PaymentStatus = Literal["paid", "unpaid", "refunded"]


class Customer(Model):
    name: str = Field(default="", examples=["Ada Lovelace"])
    email: str | None = Field(
        default=None, description="Null where the platform gives none (Etsy).", examples=["ada@example.com"]
    )


class Address(Model):
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = Field(default="", description="ISO 3166-1 alpha-2 where the platform gives it.")
    phone: str = ""


class BuyerAnswer(Model):
    """One question the shop asked at checkout and what the buyer answered (Etsy allows up to five per listing)."""

    question: str = Field(description="The shop's own label for the question.", examples=["Name on the mug"])
    answer: str = Field(examples=["Ada"])


class LineItem(Model):
    line_id: str = Field(min_length=1, description="The platform's id of this line, unique in the order.")
    product_id: str | None = Field(default=None, examples=["93"])
    variant_id: str | None = None
    sku: str | None = Field(default=None, examples=["MUG-NAME"])
    title: str = Field(examples=["Name mug"])
    quantity: int = Field(ge=1)
    unit_price: Money
    buyer_personalization: str | None = Field(
        default=None,
        description="Text the buyer typed at checkout, if any; prefills the editor. One answer alone is as typed; "
        "several are `question: answer` lines (`buyer_answers` has them apart).",
    )
    # Left out of the JSON when empty: an event without answers is byte for byte what it was before the field
    # (core's stored documents stay as written), and readers of before the field still accept it.
    buyer_answers: list[BuyerAnswer] = Field(
        default_factory=list,
        exclude_if=lambda answers: not answers,
        description="Each checkout question with the buyer's answer, in the platform's order; empty (and left "
        "out) where the platform gives no labels or the buyer answered nothing.",
    )


class OrderFields(Event):
    """What a connector knows of an order; `OrderReceived` and `OrderUpdated` share it."""

    platform: Platform
    store_id: str = Field(min_length=1, examples=["demo-woo"])
    platform_order_id: str = Field(min_length=1, examples=["1001"])
    order_number: str = Field(description="The number the merchant and the buyer see.", examples=["1001"])
    placed_at: AwareDatetime
    payment_status: PaymentStatus
    cancelled: bool = Field(default=False, description="The platform says the order was cancelled.")
    is_test: bool = Field(
        default=False, description="A test order placed by the merchant: never fulfilled automatically."
    )
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    total: Money
    customer: Customer
    shipping_address: Address | None = None
    line_items: list[LineItem] = Field(min_length=1)

    @field_validator("placed_at")
    @classmethod
    def _placed_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _key_matches(self) -> OrderFields:
        expected = order_key(self.platform, self.store_id, self.platform_order_id)
        if self.order_key != expected:
            raise ValueError(f"order_key {self.order_key!r} should be {expected!r}")
        line_ids = [line.line_id for line in self.line_items]
        if len(line_ids) != len(set(line_ids)):
            raise ValueError("line_id repeats within the order")
        return self


class OrderReceived(OrderFields):
    """A connector saw this order for the first time."""

    event_type: Literal["OrderReceived"] = "OrderReceived"


class OrderUpdated(OrderFields):
    """A connector saw a change that matters (paid, cancelled, refunded, items changed)."""

    event_type: Literal["OrderUpdated"] = "OrderUpdated"
