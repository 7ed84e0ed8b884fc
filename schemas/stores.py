"""`stores.email-changes`: a merchant asked, through the API, to send the store's mail to another address.

Internal to the system (the merchant API → the notifier), never forwarded to automation webhooks: it carries
the one secret that proves the new address is the merchant's, the confirmation URL.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.addresses import EmailAddress
from schemas.envelope import Event
from schemas.orders import Platform

AddressField = Literal["merchant_email", "reply_to"]


class MerchantEmailChangeRequested(Event):
    """A settings change named a new address; it takes effect once someone at that address opens `confirm_url`."""

    event_type: Literal["MerchantEmailChangeRequested"] = "MerchantEmailChangeRequested"
    order_key: str = Field(
        min_length=1,
        description="A store's event: `<platform>:<store_id>`, also the Kafka key, so one store's requests stay in order.",
        examples=["woocommerce:demo-woo"],
    )
    platform: Platform
    store_id: str = Field(min_length=1)
    field: AddressField = Field(description="Which setting changes: the merchant's address, or the emails' Reply-To.")
    new_address: EmailAddress = Field(description="Gets the confirmation link.")
    current_address: EmailAddress = Field(
        description="The store's merchant_email in effect: gets a notice that a change was asked for."
    )
    confirm_url: str = Field(
        max_length=2048,
        description="Opening it applies the change: single use, secret (its token is stored only hashed).",
        examples=["https://api.personalize.example.com/stores/woocommerce:demo-woo/email-change/confirm?field=…"],
    )
    expires_at: AwareDatetime = Field(description="The link works until then; past it, nothing is sent.")
    sender_name: str | None = Field(default=None, max_length=100, description="The store's sender name.")
