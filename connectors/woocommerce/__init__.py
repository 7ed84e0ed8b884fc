"""WooCommerce connector: REST API v3 polling and full-order webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime

import httpx

from connectors.client import PlatformClient
from connectors.platform import MappedOrder, PlatformAdapter, WebhookNote
from connectors.woocommerce import client, mapping, signature
from personalize.config import StoreConfig


class WooCommerce(PlatformAdapter):
    name = "woocommerce"

    def auth(self, store: StoreConfig) -> httpx.Auth:
        return client.auth(store)

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return signature.is_ping(headers, body)

    def verify_webhook(self, store: StoreConfig, headers: Mapping[str, str], body: bytes) -> None:
        signature.verify(store, headers, body)

    def read_webhook(self, store: StoreConfig, headers: Mapping[str, str], body: bytes) -> WebhookNote:
        return signature.read(store, headers, body)

    async def fetch_order(self, api: PlatformClient, store: StoreConfig, order_id: str) -> dict:
        return await client.fetch_order(api, store, order_id)

    def list_modified(self, api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
        return client.list_modified(api, store, since)

    def map_order(self, store: StoreConfig, raw: dict) -> MappedOrder:
        return mapping.map_order(store, raw)


ADAPTER = WooCommerce()
