"""How to ask WooCommerce (REST API v3): auth, the modified-since listing and its pages, one order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from datetime import UTC, datetime

import httpx
from woocommerce.oauth import OAuth

from connectors.client import PlatformClient
from plumbing.config import StoreConfig

ORDERS = "/wp-json/wc/v3/orders"
PAGE_SIZE = 100  # the API's maximum


class WooOAuth1(httpx.Auth):
    """One-legged OAuth 1.0a, required over plain HTTP; signed by the `woocommerce` package's signer."""

    def __init__(self, consumer_key: str, consumer_secret: str) -> None:
        self._key, self._secret = consumer_key, consumer_secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        signer = OAuth(str(request.url), self._key, self._secret, version="wc/v3", method=request.method)
        request.url = httpx.URL(signer.get_oauth_url())
        yield request


def auth(store: StoreConfig) -> httpx.Auth:
    """Basic auth over HTTPS; OAuth 1.0a over HTTP (WooCommerce refuses Basic there)."""
    key, secret = store.credentials.get("consumer_key", ""), store.credentials.get("consumer_secret", "")
    if (store.base_url or "").startswith("https://"):
        return httpx.BasicAuth(key, secret)
    return WooOAuth1(key, secret)


async def list_modified(api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
    page = 1
    while True:
        orders, headers = await api.get_json(
            ORDERS,
            modified_after=since.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            dates_are_gmt="true",
            orderby="modified",
            order="asc",
            per_page=PAGE_SIZE,
            page=page,
            status="any",
        )
        if orders:
            yield orders
        total_pages = int(headers.get("x-wp-totalpages") or 0)
        if not orders or page >= total_pages:
            return
        page += 1


async def fetch_order(api: PlatformClient, store: StoreConfig, order_id: str) -> dict:
    order, _ = await api.get_json(f"{ORDERS}/{order_id}")
    return order
