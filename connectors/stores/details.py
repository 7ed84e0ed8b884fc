"""A store as the registry keeps it ↔ the `StoreConfig` a connector runs: credentials sealed apart, the rest details.

The webhook secret is a credential (`webhook_secret` among the credentials); the details are what is not
secret: the store's address and how it is polled. Errors name fields, never values: a credential given in
the wrong place must not reach a log through a validation message.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from connectors.stores.record import ConnectedStore
from plumbing.config import StoreConfig
from plumbing.logs import redact_secrets

WEBHOOK_SECRET = "webhook_secret"
DETAILS = ("base_url", "poll_interval", "lookback", "start_from")


class StoreDetailsError(ValueError):
    """A registry store cannot be run: its details or credentials do not make a store (fields named, no values)."""


def connection_of(store: StoreConfig) -> tuple[dict[str, str], dict[str, str]]:
    """A YAML store's (credentials, details), as the registry keeps them."""
    credentials = dict(store.credentials)
    if store.webhook_secret:
        credentials[WEBHOOK_SECRET] = store.webhook_secret
    fields = store.model_dump(mode="json", include=set(DETAILS), exclude_none=True)
    details = {name: str(fields[name]) for name in DETAILS if name in fields and name in store.model_fields_set}
    if store.base_url:
        details["base_url"] = store.base_url
    return credentials, details


def config_of(store: ConnectedStore, credentials: Mapping[str, str]) -> StoreConfig:
    """The store a connector runs from the registry's record and its opened credentials; its secrets redacted."""
    kept = {name: value for name, value in credentials.items() if name != WEBHOOK_SECRET}
    redact_secrets(value for name, value in credentials.items() if not name.endswith("_id"))
    unknown = set(store.details) - set(DETAILS)
    if unknown:
        raise StoreDetailsError(f"store {store.key}: unknown details {sorted(unknown)} (known: {', '.join(DETAILS)})")
    try:
        return StoreConfig.model_validate(
            {
                "platform": store.platform,
                "store_id": store.store_id,
                "merchant_email": store.merchant_email,
                "credentials": kept,
                "webhook_secret": credentials.get(WEBHOOK_SECRET),
                **store.details,
            }
        )
    except ValidationError as error:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_input=False))
        raise StoreDetailsError(f"store {store.key} cannot run: {fields}") from None
