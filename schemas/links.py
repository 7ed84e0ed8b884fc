"""`personalization.link-issued` and `personalization.link-activity`: a link's life, for the editor, core and automation."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.envelope import Event
from schemas.orders import Platform
from schemas.personalization import LinkRecipient, RequestedItem


class PersonalizationLinkIssued(Event):
    """A link for the customer to personalize the order; the editor builds its link table from these."""

    event_type: Literal["PersonalizationLinkIssued"] = "PersonalizationLinkIssued"
    link_id: str = Field(description="Stable id of this link (not the secret token).")
    url: str = Field(
        description="`<PERSONALIZE_PUBLIC_URL>/p/<token>`: forward it to the customer.",
        examples=["https://personalize.example.com/p/3q2-7wEx…"],
    )
    expires_at: AwareDatetime
    sequence: int = Field(ge=1, description="1 for the order's first link, 2 for the re-issue, …")
    merchant_email: str
    store_id: str
    platform: Platform
    order_number: str
    is_test: bool = False
    recipient: LinkRecipient = Field(
        default="merchant",
        description="Who the email with this link goes to: the merchant (who forwards it) or the customer.",
    )
    items: list[RequestedItem] = Field(min_length=1)


class LinkActivity(Event):
    """What every event about an issued link carries."""

    link_id: str
    sequence: int = Field(ge=1)
    store_id: str
    platform: Platform
    order_number: str = ""
    is_test: bool = False


class PersonalizationLinkOpened(LinkActivity):
    """The customer opened the link for the first time (the editor; later opens are not reported)."""

    event_type: Literal["PersonalizationLinkOpened"] = "PersonalizationLinkOpened"


class PersonalizationLinkExpired(LinkActivity):
    """The link passed `expires_at` unused (the notifier); a fresh link follows while the order still waits."""

    event_type: Literal["PersonalizationLinkExpired"] = "PersonalizationLinkExpired"
    expired_at: AwareDatetime


class PersonalizationReminderSent(LinkActivity):
    """A reminder email for a still-unused link went out (the notifier)."""

    event_type: Literal["PersonalizationReminderSent"] = "PersonalizationReminderSent"
    reminder: int = Field(ge=1, description="1 for the first reminder of this link, 2 for the second, …")
    recipient: LinkRecipient
    expires_at: AwareDatetime
