"""`personalization.requested` and `personalization.completed`, and the template they carry."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from schemas.envelope import Event, Model
from schemas.orders import Platform

FieldType = Literal["text", "image", "clipart"]
LinkRecipient = Literal["merchant", "customer"]


class TemplateField(Model):
    """One input the customer gives: a text, an image, or a clipart choice."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$", examples=["name"])
    type: FieldType
    label: str | None = Field(default=None, description="Shown to the customer; defaults to the name.")
    required: bool = False
    max_length: int | None = Field(default=None, ge=1, description="Text fields only.")
    choices: list[str] | None = Field(default=None, min_length=1, description="Clipart fields only.")

    @model_validator(mode="after")
    def _fits_type(self) -> TemplateField:
        if self.type == "clipart" and not self.choices:
            raise ValueError(f"clipart field {self.name!r} needs choices")
        if self.type != "clipart" and self.choices:
            raise ValueError(f"only clipart fields take choices ({self.name!r} is {self.type})")
        if self.type != "text" and self.max_length is not None:
            raise ValueError(f"only text fields take max_length ({self.name!r} is {self.type})")
        return self


class Template(Model):
    """What a personalizable product asks of the customer."""

    id: str = Field(min_length=1, examples=["name-mug"])
    title: str = Field(examples=["Name mug"])
    fields: list[TemplateField] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Template:
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"template {self.id!r} repeats a field name")
        return self


class RequestedItem(Model):
    line_id: str
    title: str
    quantity: int = Field(ge=1)
    template: Template
    buyer_personalization: str | None = None


class LinkDelivery(Model):
    """How the store wants its links delivered; core copies it from the store's settings into each request."""

    recipient: LinkRecipient = Field(
        default="merchant",
        description="`merchant` (forwards the link, the seed's flow) or `customer` (emailed directly when the order "
        "has the buyer's address; otherwise it falls back to the merchant).",
    )
    customer_email: str | None = Field(default=None, description="The buyer's address, where the platform gives one.")
    customer_name: str = ""
    locale: str = Field(default="en", description="Language of the emails and the notice, e.g. `en`, `de`.")
    sender_name: str | None = Field(default=None, description="Shown as the email's sender name.")
    reply_to: str | None = None
    logo_url: str | None = None
    reminders: list[timedelta] = Field(
        default_factory=lambda: [timedelta(days=3), timedelta(days=6)],
        description="After the link is issued, when to remind (ISO 8601 durations); none once completed.",
    )


class PersonalizationRequested(Event):
    """An order waits for its customer's personalization; the notifier sends the link at `notify_after`."""

    event_type: Literal["PersonalizationRequested"] = "PersonalizationRequested"
    store_id: str
    platform: Platform
    order_number: str = ""
    merchant_email: str
    received_at: AwareDatetime = Field(description="When the order reached us.")
    notify_after: AwareDatetime = Field(
        description="Not before this time is the link sent (15 minutes after receipt by default)."
    )
    is_test: bool = False
    trigger: Literal["order_received", "items_changed", "resend_requested"] = Field(
        default="order_received",
        description="Why this request was published; `resend_requested` asks for a fresh link at once.",
    )
    delivery: LinkDelivery = Field(default_factory=LinkDelivery)
    items: list[RequestedItem] = Field(min_length=1)


class Asset(Model):
    """A file the customer uploaded for an image field."""

    field: str
    uri: str = Field(
        description="Where the editor stored it.", examples=["file:///var/lib/personalize/assets/ab12.png"]
    )
    media_type: Literal["image/jpeg", "image/png", "image/webp"]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class CompletedItem(Model):
    line_id: str
    fields: dict[str, str] = Field(
        description="Field name to value: the text, the clipart choice, the image's asset uri."
    )
    assets: list[Asset] = Field(default_factory=list)


class PersonalizationCompleted(Event):
    """The customer completed the personalization of every requested line."""

    event_type: Literal["PersonalizationCompleted"] = "PersonalizationCompleted"
    items: list[CompletedItem] = Field(min_length=1)
