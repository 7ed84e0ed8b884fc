"""An order as core keeps it, and the table of status moves it may make."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Union

from pydantic import BaseModel, ConfigDict, Field

from schemas import (
    CompletedItem,
    FulfillmentPart,
    FulfillmentRequested,
    LinkRecipient,
    OrderReceived,
    OrderStatus,
    OrderStatusChanged,
    OrderUpdated,
    PersonalizationRequested,
)

PP, PA, IF, CANCELLED = (
    OrderStatus.PENDING_PERSONALIZATION,
    OrderStatus.PENDING_APPROVAL,
    OrderStatus.IN_FULFILLMENT,
    OrderStatus.CANCELLED,
)

# None is "not started": an unpaid order waits there without a public status.
ALLOWED_MOVES: dict[OrderStatus | None, frozenset[OrderStatus]] = {
    None: frozenset({PP, PA, IF, CANCELLED}),
    PP: frozenset({PA, IF, CANCELLED}),
    PA: frozenset({IF, CANCELLED}),
    IF: frozenset({CANCELLED}),
    CANCELLED: frozenset(),
}

# How many recent inputs an order remembers, with what they produced, to
# re-publish on redelivery. An order sees a handful of events in its life.
APPLIED_MEMORY = 32

Outgoing = Annotated[
    Union[OrderStatusChanged, PersonalizationRequested, FulfillmentRequested],  # noqa: UP007
    Field(discriminator="event_type"),
]
OrderSnapshot = Annotated[Union[OrderReceived, OrderUpdated], Field(discriminator="event_type")]  # noqa: UP007


class IllegalMove(RuntimeError):
    """A decision tried a status move the table forbids: a bug, never a user error."""


class StatusEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    from_status: OrderStatus | None
    to_status: OrderStatus
    reason: str
    at: datetime
    event_id: str


@dataclass(frozen=True, slots=True)
class Applied:
    """An input event core acted on, and the events that produced (kept to re-publish on redelivery).

    How the order's document keeps them, as the JSON that was published, is `core.codec`'s business; a plain
    dataclass, as it is made for every input core acts on and pydantic's checks of a sequence cost more.
    """

    event_id: str
    source: str = ""  # topic:partition:offset of the message that carried it
    outgoing: Sequence[Outgoing] = ()


class Reminder(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    at: datetime


class LinkState(BaseModel):
    """One personalization link as core learnt of it from the notifier's and the editor's events.

    Fields stay None until their event arrives; an activity event may come before the issue (another topic).
    """

    model_config = ConfigDict(frozen=True)

    link_id: str
    sequence: int
    recipient: LinkRecipient | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    opened_at: datetime | None = None
    expired_at: datetime | None = None
    reminders: list[Reminder] = Field(default_factory=list)
    completed_at: datetime | None = None


class FulfillmentSent(BaseModel):
    """A `FulfillmentRequested` core published for this order, and which lines it carried."""

    model_config = ConfigDict(frozen=True)

    part: FulfillmentPart
    line_ids: list[str]
    at: datetime
    event_id: str


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_key: str
    snapshot: OrderSnapshot = Field(description="The connector's latest view of the order.")
    received_at: datetime
    status: OrderStatus | None = None
    personalize_lines: list[str] = Field(default_factory=list, description="Line ids waiting for personalization.")
    personalization: list[CompletedItem] = Field(default_factory=list)
    personalized_at: datetime | None = None
    history: list[StatusEntry] = Field(default_factory=list)
    links: list[LinkState] = Field(default_factory=list, description="Oldest first.")
    fulfillments: list[FulfillmentSent] = Field(default_factory=list)
    # The last field: the stored document writes the memory after the rest (`core.codec`), as it always had it.
    applied: list[Applied] = Field(default_factory=list)

    @property
    def sent_lines(self) -> set[str]:
        """Line ids already handed to fulfillment: never sent twice."""
        return {line for sent in self.fulfillments for line in sent.line_ids}

    def applied_entry(self, event_id: str) -> Applied | None:
        return next((entry for entry in self.applied if entry.event_id == event_id), None)

    def remember(self, event_id: str, source: str, outgoing: Sequence[Outgoing]) -> Order:
        """Keep the input's id, its message and the events it produced, to re-publish them on redelivery."""
        entry = Applied(event_id=event_id, source=source, outgoing=outgoing)
        applied = [*self.applied, entry][-APPLIED_MEMORY:]
        return self.model_copy(update={"applied": applied})

    def moved(self, to: OrderStatus, reason: str, at: datetime, event_id: str) -> tuple[Order, OrderStatusChanged]:
        if to not in ALLOWED_MOVES[self.status]:
            raise IllegalMove(f"{self.order_key}: {self.status} -> {to} is not allowed")
        entry = StatusEntry(from_status=self.status, to_status=to, reason=reason, at=at, event_id=event_id)
        changed = OrderStatusChanged(
            order_key=self.order_key, occurred_at=at, from_status=self.status, to_status=to, reason=reason
        )
        return self.model_copy(update={"status": to, "history": [*self.history, entry]}), changed
