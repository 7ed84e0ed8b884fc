"""How to ask Wix (eCom Orders v1): API-key headers, Search Orders by `updatedDate` with cursor paging, one order.

Search: `POST /ecom/v1/orders/search` with `{"search": {filter, sort,
cursorPaging}}`, answered `{"orders": [...], "pagingMetadata": {"count",
"cursors": {"next"}, "hasNext"}}`
(https://dev.wix.com/docs/rest/api-reference/wix-e-commerce/orders/search-orders).

Decisions:
- Later pages send the cursor alone: Wix's paging articles say a cursor
  already holds the filter and sort, and that passing them again with it is
  an invalid-cursor error.
- The date filter value is an ISO-8601 UTC string with milliseconds, the
  form the order's own `updatedDate` has.
- Orders still `INITIALIZED` (online, not yet paid) are never returned by
  Search; they reach us by webhook or once they are approved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connectors.client import PlatformClient
from connectors.errors import PlatformError
from plumbing.config import StoreConfig

SEARCH = "/ecom/v1/orders/search"
ORDER = "/ecom/v1/orders/{order_id}"
PAGE_SIZE = 100  # the documented default; no larger maximum is documented


def headers(store: StoreConfig) -> dict[str, str]:
    """An API key from the API Keys Manager goes bare in Authorization; the site is named beside it."""
    return {"Authorization": store.credentials.get("api_key", ""), "wix-site-id": store.credentials.get("site_id", "")}


def wix_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def first_search(since: datetime) -> dict[str, Any]:
    return {
        "search": {
            "filter": {"updatedDate": {"$gte": wix_time(since)}},
            "sort": [{"fieldName": "updatedDate", "order": "ASC"}],
            "cursorPaging": {"limit": PAGE_SIZE},
        }
    }


def next_search(cursor: str) -> dict[str, Any]:
    return {"search": {"cursorPaging": {"limit": PAGE_SIZE, "cursor": cursor}}}


def next_cursor(page: dict[str, Any]) -> str | None:
    meta = page.get("pagingMetadata") or {}
    if meta.get("hasNext") is False:
        return None
    return (meta.get("cursors") or {}).get("next") or None


async def list_modified(api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
    body = first_search(since)
    while True:
        page = await _json(api, "POST", SEARCH, json=body)
        orders = page.get("orders") or []
        if orders:
            yield orders
        cursor = next_cursor(page)
        if not orders or not cursor:
            return
        body = next_search(cursor)


async def fetch_order(api: PlatformClient, store: StoreConfig, order_id: str) -> dict:
    answer = await _json(api, "GET", ORDER.format(order_id=quote(order_id, safe="")))
    order = answer.get("order")
    if not isinstance(order, dict):
        raise PlatformError(f"wix: order {order_id} answered without an order")
    return order


async def _json(api: PlatformClient, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    parsed, _ = await api.request_json(method, path, **kwargs)
    if not isinstance(parsed, dict):
        raise PlatformError(f"wix: {path} answered {type(parsed).__name__}, not an object")
    return parsed
