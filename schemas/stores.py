"""A store's events.

`stores.email-changes`: a merchant asked, through the API, to send the store's mail to another address.
Internal to the system (the merchant API → the notifier), never forwarded to automation webhooks: it carries
the one secret that proves the new address is the merchant's, the confirmation URL.

`stores`: a store connected, changed or disconnected (`connectors.stores.lifecycle` publishes them). They
carry no credential, ever; core, the merchant API and every connector copy learn stores from them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

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


def store_key(platform: str, store_id: str) -> str:
    """A store's events are keyed `<platform>:<store_id>`: one store's lifecycle stays in order on one partition."""
    return f"{platform}:{store_id}"


class _StoreEvent(Event):
    order_key: str = Field(
        min_length=1,
        description="The store's key `<platform>:<store_id>`, also the Kafka key, so one store's events stay in order.",
        examples=["woocommerce:demo-woo"],
    )
    platform: Platform
    store_id: str = Field(min_length=1, max_length=200, examples=["demo-woo"])

    @model_validator(mode="after")
    def _keyed_by_the_store(self) -> _StoreEvent:
        if self.order_key != store_key(self.platform, self.store_id):
            raise ValueError("order_key must be `<platform>:<store_id>` of the event's store")
        return self


class StoreConnected(_StoreEvent):
    """A store was connected (or connected again after a disconnect): its connector polls it and takes its
    webhooks, core accepts its orders. Carries no credential: those stay sealed in the store registry."""

    event_type: Literal["StoreConnected"] = "StoreConnected"
    merchant_email: EmailAddress = Field(description="Where the store's mail goes until the merchant changes it.")


class StoreUpdated(_StoreEvent):
    """A connected store's connection changed (new credentials, a new address or merchant email); still connected."""

    event_type: Literal["StoreUpdated"] = "StoreUpdated"
    merchant_email: EmailAddress


class StoreDisconnected(_StoreEvent):
    """A store was disconnected: its credentials are deleted, its connector stops reading it."""

    event_type: Literal["StoreDisconnected"] = "StoreDisconnected"
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why, in words for the merchant and the operator.",
        examples=["disconnected by the operator"],
    )
    merchant_email: EmailAddress | None = Field(
        default=None, description="The store's address when it was disconnected: told once that it was."
    )
    disconnected_at: AwareDatetime | None = Field(
        default=None,
        description="When the registry marked it: the same on every announcement of this one disconnection.",
    )
