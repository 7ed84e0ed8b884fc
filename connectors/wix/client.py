"""How to ask Wix (eCom Orders v1): API-key headers, Search Orders by `updatedDate` with cursor paging, one order.

Search: `POST /ecom/v1/orders/search` with `{"search": {filter, sort,
cursorPaging}}`, answered `{"orders": [...], <paging>: {"count",
"cursors": {"next"}, "hasNext"}}`
(https://dev.wix.com/docs/rest/api-reference/wix-e-commerce/orders/search-orders).
Where `<paging>` is, the docs we could read do not settle: Wix's C# client
(WixSharp) and other integrations read `metadata`, some read
`pagingMetadata`. We read both.

Decisions:
- Later pages send the cursor alone: Wix's paging articles say a cursor
  already holds the filter and sort, and that passing them again with it is
  an invalid-cursor error.
- The date filter value is an ISO-8601 UTC string with milliseconds, the
  form the order's own `updatedDate` has.
- Paging goes by `hasNext`, and never stops silently on a full page: a page
  that says there is more but gives no cursor, or a full page with no paging
  word at all, fails the poll loudly (PlatformError, logged and counted by
  the poller). Stopping there would re-read the same first page forever once
  more than a page of orders changed inside one lookback.
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
    """A connected app's token, bare in Authorization as Wix's examples send it (it names its site itself);
    else an API key from the API Keys Manager, bare too, with the site named beside it."""
    if token := store.credentials.get("access_token"):
        return {"Authorization": token}
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


PAGING_KEYS = ("metadata", "pagingMetadata")


def next_cursor(page: dict[str, Any], orders: list[dict]) -> str | None:
    """The cursor of the next page; None at the end. PlatformError where the answer does not say which."""
    metas = [meta for key in PAGING_KEYS if isinstance(meta := page.get(key), dict)]
    cursors = [c for meta in metas if isinstance(c := (meta.get("cursors") or {}).get("next"), str) and c]
    said = [meta["hasNext"] for meta in metas if isinstance(meta.get("hasNext"), bool)]
    has_next = any(said) if said else None
    if has_next is False:
        return None
    if cursors:
        return cursors[0]
    if has_next:
        raise PlatformError("wix: Search Orders says hasNext but gives no cursor in metadata or pagingMetadata")
    if len(orders) >= PAGE_SIZE:
        raise PlatformError(f"wix: a full page of {len(orders)} orders without paging metadata: refusing to stop here")
    return None


async def list_modified(api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
    body = first_search(since)
    while True:
        page = await _json(api, "POST", SEARCH, json=body)
        orders = page.get("orders") or []
        if orders:
            yield orders
        cursor = next_cursor(page, orders)
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
