"""Which events travel on which topic, and how to read one off the wire."""

from __future__ import annotations

from typing import Annotated, Union, cast

from pydantic import Field, TypeAdapter
from typing_extensions import TypeForm

from schemas.commands import ApproveOrder, CancelOrder, ResendLink
from schemas.dead_letters import DeadLetter
from schemas.envelope import Event
from schemas.fulfillment import FulfillmentRequested
from schemas.links import (
    PersonalizationLinkExpired,
    PersonalizationLinkIssued,
    PersonalizationLinkOpened,
    PersonalizationReminderSent,
)
from schemas.orders import OrderReceived, OrderUpdated
from schemas.personalization import PersonalizationCompleted, PersonalizationRequested
from schemas.status import OrderStatusChanged
from schemas.stores import MerchantEmailChangeRequested, StoreConnected, StoreDisconnected, StoreUpdated

ORDERS_RECEIVED = "orders.received"
ORDERS_STATUS = "orders.status"
ORDERS_COMMANDS = "orders.commands"
PERSONALIZATION_REQUESTED = "personalization.requested"
PERSONALIZATION_COMPLETED = "personalization.completed"
PERSONALIZATION_LINK_ISSUED = "personalization.link-issued"
PERSONALIZATION_LINK_ACTIVITY = "personalization.link-activity"
FULFILLMENT_REQUESTED = "fulfillment.requested"
DEAD_LETTERS = "dead-letters"
STORES_EMAIL_CHANGES = "stores.email-changes"
STORES = "stores"

EVENTS_BY_TOPIC: dict[str, tuple[type[Event], ...]] = {
    ORDERS_RECEIVED: (OrderReceived, OrderUpdated),
    ORDERS_STATUS: (OrderStatusChanged,),
    PERSONALIZATION_REQUESTED: (PersonalizationRequested,),
    PERSONALIZATION_COMPLETED: (PersonalizationCompleted,),
    PERSONALIZATION_LINK_ISSUED: (PersonalizationLinkIssued,),
    PERSONALIZATION_LINK_ACTIVITY: (PersonalizationLinkOpened, PersonalizationLinkExpired, PersonalizationReminderSent),
    ORDERS_COMMANDS: (ApproveOrder, CancelOrder, ResendLink),
    FULFILLMENT_REQUESTED: (FulfillmentRequested,),
    DEAD_LETTERS: (DeadLetter,),
    STORES_EMAIL_CHANGES: (MerchantEmailChangeRequested,),
    STORES: (StoreConnected, StoreUpdated, StoreDisconnected),
}

# Between our own services only: dead letters are for operators, an email change carries its confirmation secret.
# `stores` carries no secret and could be offered to automations, but the notifier's hook routing reads an
# order's key (`<platform>:<store_id>:<order>`) and a store's events are keyed by the store: internal until
# the notifier routes them (docs/architecture.md, "Stores are data").
INTERNAL_TOPICS: frozenset[str] = frozenset({DEAD_LETTERS, STORES_EMAIL_CHANGES, STORES})

# What a merchant may subscribe an automation webhook to (everything but the internal topics).
DELIVERABLE_EVENTS: frozenset[str] = frozenset(
    event.__name__ for topic, types in EVENTS_BY_TOPIC.items() if topic not in INTERNAL_TOPICS for event in types
)

TOPIC_OF: dict[type[Event], str] = {
    event_type: topic for topic, types in EVENTS_BY_TOPIC.items() for event_type in types
}


def _adapter(types: tuple[type[Event], ...]) -> TypeAdapter[Event]:
    if len(types) == 1:
        return TypeAdapter(types[0])
    # A union built at run time, which no static type can name: the cast says what it holds.
    union: object = Annotated[Union[types], Field(discriminator="event_type")]  # noqa: UP007 - a run-time tuple has no `|`
    return TypeAdapter(cast("TypeForm[Event]", union))


_ADAPTERS = {topic: _adapter(types) for topic, types in EVENTS_BY_TOPIC.items()}


def topic_of(event: Event) -> str:
    return TOPIC_OF[type(event)]


_ENVELOPE_STAMPS = frozenset({"event_id", "occurred_at"})


def decode(topic: str, raw: bytes) -> Event:
    """Parse and validate one message of `topic`; raises `ValueError` (pydantic's) on bad input."""
    try:
        adapter = _ADAPTERS[topic]
    except KeyError:
        raise ValueError(f"no events are defined for topic {topic!r}") from None
    event = adapter.validate_json(raw)
    # The model fills in a fresh id and the current time when they are not given (for producers); read off the
    # wire, that would give the same message another id and time at every redelivery, and consumers dedupe on the
    # id and order by the time.
    missing = _ENVELOPE_STAMPS - event.model_fields_set
    if missing:
        raise ValueError(
            f"{event.event_type} has no {' or '.join(sorted(missing))}: an event on the wire must carry its own"
        )
    return event


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()
