"""The envelope every event carries, and the small types events share."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

Money = Annotated[
    str,
    Field(
        pattern=r"^-?\d+(\.\d+)?$",
        description="A decimal amount as a string, never a float.",
        examples=["12.50"],
    ),
]

ORDER_KEY_DESCRIPTION = (
    "`<platform>:<store_id>:<platform_order_id>`; also the Kafka message key, "
    "so every event of one order lands on one partition, in order."
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return str(uuid.uuid4())


def order_key(platform: str, store_id: str, platform_order_id: str) -> str:
    return f"{platform}:{store_id}:{platform_order_id}"


class Model(BaseModel):
    """Frozen, strict about unknown fields: a typo in a producer fails loudly."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(Model):
    """Envelope fields; every event type subclasses this and pins `event_type`."""

    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: str = Field(
        default_factory=new_event_id,
        description="UUID of this event; consumers dedupe on it.",
        examples=["6f1c1f0e-6a43-4d1e-9a43-0f8d2f3b7c11"],
    )
    event_type: str = Field(description="The event's model name.")
    schema_version: int = Field(default=1, ge=1, description="Version of this event type's schema.")
    occurred_at: AwareDatetime = Field(
        default_factory=utc_now, description="When it happened, UTC, RFC 3339."
    )
    order_key: str = Field(min_length=1, description=ORDER_KEY_DESCRIPTION, examples=["woocommerce:demo-woo:1001"])

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("event_id")
    @classmethod
    def _is_uuid(cls, value: str) -> str:
        return str(uuid.UUID(value))
