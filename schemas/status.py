"""`orders.status`: every change of an order's status, for automation."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from schemas.envelope import Event


class OrderStatus(StrEnum):
    PENDING_PERSONALIZATION = "pending_personalization"
    PENDING_APPROVAL = "pending_approval"
    IN_FULFILLMENT = "in_fulfillment"
    CANCELLED = "cancelled"


class OrderStatusChanged(Event):
    """An order moved from one status to another."""

    event_type: Literal["OrderStatusChanged"] = "OrderStatusChanged"
    from_status: OrderStatus | None = Field(description="Null for the order's first status.")
    to_status: OrderStatus
    reason: str = Field(examples=["personalization completed"])
