"""`orders.commands`: what a merchant asks core to do to an order."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.envelope import Event


class Command(Event):
    reason: str | None = Field(default=None, examples=["customer asked by phone"])


class ApproveOrder(Command):
    """Send the order to fulfillment (also overrides a missing personalization)."""

    event_type: Literal["ApproveOrder"] = "ApproveOrder"


class CancelOrder(Command):
    """Cancel the order: it is never fulfilled afterwards."""

    event_type: Literal["CancelOrder"] = "CancelOrder"


class ResendLink(Command):
    """Send a fresh personalization link now."""

    event_type: Literal["ResendLink"] = "ResendLink"
