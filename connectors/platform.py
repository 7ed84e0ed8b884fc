"""What a platform folder provides: how to ask, how to page, how to verify, how to map.

Everything else (retries, rate limits, cursors, dedupe, the webhook endpoint,
publishing) is written once in `connectors/` and shared by all five.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx

from connectors.client import PlatformClient
from personalize.config import StoreConfig
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


WebhookNote = FullOrder | OrderRef | NothingToDo


class PlatformAdapter:
    """Base of each platform's adapter; the defaults fit most platforms."""

    name: str
    # Seconds the platform lets us wait before it gives up on a webhook; under
    # a few seconds, thin webhooks are fetched after the answer, never inline.
    webhook_timeout_s: float = 5.0

    def headers(self, store: StoreConfig) -> dict[str, str]:
        """Auth and other headers every request to this store carries."""
        return {}

    def auth(self, store: StoreConfig) -> httpx.Auth | None:
        return None

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """A delivery check the platform sends unsigned and expects 200 for (publishes nothing)."""
        return False

    def verify_webhook(self, store: StoreConfig, headers: Mapping[str, str], body: bytes) -> None:
        """Raise InvalidSignatureError unless the body is signed the platform's way (constant-time compare)."""
        raise NotImplementedError

    def read_webhook(self, store: StoreConfig, headers: Mapping[str, str], body: bytes) -> WebhookNote:
        """Raise UnreadableWebhookError for a verified body we cannot read."""
        raise NotImplementedError

    async def fetch_order(self, api: PlatformClient, store: StoreConfig, order_id: str) -> dict:
        raise NotImplementedError

    def list_modified(self, api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
        """Pages of orders modified at or after `since`, oldest first, each page complete enough to map."""
        raise NotImplementedError

    def map_order(self, store: StoreConfig, raw: dict) -> MappedOrder:
        """Raise UnmappableOrderError with the reason when the order cannot be read."""
        raise NotImplementedError

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying a 429; None lets the client use Retry-After or back off."""
        return None
