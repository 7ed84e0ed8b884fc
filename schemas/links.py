"""`personalization.link-issued`: a personalization link was issued and emailed."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.envelope import Event
from schemas.orders import Platform
from schemas.personalization import RequestedItem


class PersonalizationLinkIssued(Event):
    """A link for the customer to personalize the order; the editor builds its link table from these."""

    event_type: Literal["PersonalizationLinkIssued"] = "PersonalizationLinkIssued"
    link_id: str = Field(description="Stable id of this link (not the secret token).")
    url: str = Field(description="`<PERSONALIZE_PUBLIC_URL>/p/<token>`: forward it to the customer.",
                     examples=["https://personalize.example.com/p/3q2-7wEx…"])
    expires_at: AwareDatetime
    sequence: int = Field(ge=1, description="1 for the order's first link, 2 for the re-issue, …")
    merchant_email: str
    store_id: str
    platform: Platform
    order_number: str
    is_test: bool = False
    items: list[RequestedItem] = Field(min_length=1)
