"""The event contract: frozen pydantic models, JSON on the wire, one topic per stream.

Names here are public (merchants automate on them): add fields with defaults,
never rename or remove one without a new `schema_version`.
"""

from schemas.addresses import EmailAddress
from schemas.commands import ApproveOrder, CancelOrder, Command, ResendLink
from schemas.dead_letters import DeadLetter
from schemas.envelope import Event, Money, order_key, utc_now
from schemas.fulfillment import FulfillmentLine, FulfillmentPart, FulfillmentRequested
from schemas.links import (
    LinkActivity,
    PersonalizationLinkExpired,
    PersonalizationLinkIssued,
    PersonalizationLinkOpened,
    PersonalizationReminderSent,
)
from schemas.orders import (
    PLATFORMS,
    Address,
    BuyerAnswer,
    Customer,
    LineItem,
    OrderFields,
    OrderReceived,
    OrderUpdated,
    Platform,
)
from schemas.personalization import (
    Asset,
    CompletedItem,
    LinkDelivery,
    LinkRecipient,
    PersonalizationCompleted,
    PersonalizationRequested,
    RequestedItem,
    Template,
    TemplateField,
)
from schemas.status import OrderStatus, OrderStatusChanged
from schemas.stores import AddressField, MerchantEmailChangeRequested
from schemas.topics import (
    DEAD_LETTERS,
    DELIVERABLE_EVENTS,
    EVENTS_BY_TOPIC,
    FULFILLMENT_REQUESTED,
    INTERNAL_TOPICS,
    ORDERS_COMMANDS,
    ORDERS_RECEIVED,
    ORDERS_STATUS,
    PERSONALIZATION_COMPLETED,
    PERSONALIZATION_LINK_ACTIVITY,
    PERSONALIZATION_LINK_ISSUED,
    PERSONALIZATION_REQUESTED,
    STORES_EMAIL_CHANGES,
    decode,
    encode,
    topic_of,
)

__all__ = [
    "DEAD_LETTERS",
    "DELIVERABLE_EVENTS",
    "EVENTS_BY_TOPIC",
    "FULFILLMENT_REQUESTED",
    "INTERNAL_TOPICS",
    "ORDERS_COMMANDS",
    "ORDERS_RECEIVED",
    "ORDERS_STATUS",
    "PERSONALIZATION_COMPLETED",
    "PERSONALIZATION_LINK_ACTIVITY",
    "PERSONALIZATION_LINK_ISSUED",
    "PERSONALIZATION_REQUESTED",
    "PLATFORMS",
    "STORES_EMAIL_CHANGES",
    "Address",
    "AddressField",
    "ApproveOrder",
    "Asset",
    "BuyerAnswer",
    "CancelOrder",
    "Command",
    "CompletedItem",
    "Customer",
    "DeadLetter",
    "EmailAddress",
    "Event",
    "FulfillmentLine",
    "FulfillmentPart",
    "FulfillmentRequested",
    "LineItem",
    "LinkActivity",
    "LinkDelivery",
    "LinkRecipient",
    "MerchantEmailChangeRequested",
    "Money",
    "OrderFields",
    "OrderReceived",
    "OrderStatus",
    "OrderStatusChanged",
    "OrderUpdated",
    "PersonalizationCompleted",
    "PersonalizationLinkExpired",
    "PersonalizationLinkIssued",
    "PersonalizationLinkOpened",
    "PersonalizationReminderSent",
    "PersonalizationRequested",
    "Platform",
    "RequestedItem",
    "ResendLink",
    "Template",
    "TemplateField",
    "decode",
    "encode",
    "order_key",
    "topic_of",
    "utc_now",
]
