"""What a platform folder provides: how to ask, how to page, how to verify, how to map.

Everything else (retries, rate limits, cursors, dedupe, the webhook endpoint,
publishing) is written once in `connectors/` and shared by all five.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType

import httpx

from connectors.client import PlatformClient
from connectors.errors import InvalidSignatureError, UnmappableOrderError, UnreadableWebhookError
from plumbing.config import StoreConfig
from schemas import OrderReceived


@dataclass(frozen=True)
class MappedOrder:
    """A platform order as our event, plus the platform's own modified time (for dedupe and the cursor)."""

    order: OrderReceived
    modified_at: datetime


@dataclass(frozen=True)
class FullOrder:
    """The webhook carried the whole order (WooCommerce, Wix)."""

    raw: dict


@dataclass(frozen=True)
class OrderRef:
    """The webhook named an order only (Etsy, Squarespace, BigCommerce): fetch it."""

    order_id: str


@dataclass(frozen=True)
class NothingToDo:
    """A ping, or a topic that says nothing about orders we track."""

    why: str


@dataclass(frozen=True)
class Uninstalled:
    """The merchant removed our app from the store (Squarespace `extension.uninstall`, BigCommerce
    `store/app/uninstalled`, Wix App Instance Removed): the store is to be disconnected, `reason` says why."""

    reason: str


WebhookNote = FullOrder | OrderRef | NothingToDo | Uninstalled


class PlatformAdapter:
    """A platform is three small modules of its folder, and this class is the only glue between them.

    - `client`: `list_modified(api, store, since)` (async pages, oldest first), `fetch_order(api, store, id)`,
      and optionally `headers(store)`, `auth(store)`, `rate_limit_wait(response)`;
    - `mapping`: `map_order(store, raw) -> MappedOrder` (raises UnmappableOrderError);
    - `signature`: `verify(store, headers, body)` (raises InvalidSignatureError, compares in constant
      time), `read(store, headers, body) -> WebhookNote` (raises UnreadableWebhookError), optionally
      `is_ping(headers, body)`; where one app URL serves every store (Wix, Etsy) also
      `routing_id(headers, body)` (the platform's id of the store the delivery names, read only to pick
      the store whose secret then verifies it) and `store_routing_id(store)` (that id of a store).
    """

    def __init__(self, name: str, client: ModuleType, mapping: ModuleType, signature: ModuleType) -> None:
        self.name = name
        self._client, self._mapping, self._signature = client, mapping, signature

    def headers(self, store: StoreConfig) -> dict[str, str]:
        """Auth and other headers every request to this store carries."""
        return self._client.headers(store) if hasattr(self._client, "headers") else {}

    def auth(self, store: StoreConfig) -> httpx.Auth | None:
        return self._client.auth(store) if hasattr(self._client, "auth") else None

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """A delivery check the platform sends unsigned and expects 200 for (publishes nothing)."""
        return self._signature.is_ping(headers, body) if hasattr(self._signature, "is_ping") else False

    @property
    def routes_per_app(self) -> bool:
        """Webhooks arrive at one URL for the whole app and name their store inside (`POST /webhooks/<platform>`)."""
        return hasattr(self._signature, "routing_id")

    def routing_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """The store a delivery names; None (an unknown store, 404) for a body that names none, whatever it holds."""
        if not self.routes_per_app:
            return None
        try:
            return self._signature.routing_id(headers, body)
        except Exception:  # unverified input, e.g. JSON nested past the recursion limit: never a 500
            return None

    def store_routing_id(self, store: StoreConfig) -> str | None:
        return self._signature.store_routing_id(store) if self.routes_per_app else None

    def verify_webhook(self, store: StoreConfig, headers: Mapping[str, str], body: bytes) -> None:
        self._signature.verify(store, headers, body)

    def read_webhook(self, store: StoreConfig, headers: Mapping[str, str], body: bytes) -> WebhookNote:
        try:
            return self._signature.read(store, headers, body)
        except (UnreadableWebhookError, InvalidSignatureError):
            raise
        except Exception as error:  # a verified body we cannot read is a dead letter, never a 500
            raise UnreadableWebhookError(f"{type(error).__name__}: {str(error)[:200]}") from None

    async def fetch_order(self, api: PlatformClient, store: StoreConfig, order_id: str) -> dict:
        return await self._client.fetch_order(api, store, order_id)

    def list_modified(self, api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
        return self._client.list_modified(api, store, since)

    def map_order(self, store: StoreConfig, raw: dict) -> MappedOrder:
        """Raises only UnmappableOrderError: one odd order must not stop a poll page or answer a webhook 500."""
        try:
            return self._mapping.map_order(store, raw)
        except UnmappableOrderError:
            raise
        except Exception as error:  # e.g. `"quantity": Infinity`, nesting past the recursion limit
            raise UnmappableOrderError(f"{type(error).__name__}: {str(error)[:200]}") from None

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying a 429; None lets the client use Retry-After or back off."""
        if hasattr(self._client, "rate_limit_wait"):
            return self._client.rate_limit_wait(response)
        return None
