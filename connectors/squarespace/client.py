"""How to ask Squarespace (Commerce API, Orders 1.0): headers, the modified-between listing, one order.

developers.squarespace.com/commerce-apis/retrieve-all-orders: up to 50 orders a page, "ordered by their
modification date"; `modifiedAfter` and `modifiedBefore` (ISO 8601 UTC) go together, and a request takes
either that range or `cursor` (= `pagination.nextPageCursor`), never both. The cursor is dynamic, not a
snapshot (.../faq). Whether the order is oldest or newest first is not said, and the poller needs oldest
first (its cursor must never pass an order it has not published), so one listing reads every page of
its window and hands them on re-sorted, oldest first. A window is (cursor - lookback, now): small,
except for a first poll from an old `start_from`.

.../making-requests: `Authorization: Bearer <API key or OAuth access token>` and a `User-Agent` on every request (requests
without one are rejected). .../rate-limits: 300 requests a minute; over it, 429 and a one-minute
cool-down. No rate-limit headers are documented, so we wait Retry-After when one comes, else the minute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from connectors.client import PlatformClient, retry_after_seconds
from connectors.squarespace.mapping import iso
from plumbing.config import StoreConfig
from schemas import utc_now

ORDERS = "/1.0/commerce/orders"
PAGE_SIZE = 50  # fixed by the API
USER_AGENT = "personalize-connector/0.1"
COOL_DOWN_S = 60.0
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def headers(store: StoreConfig) -> dict[str, str]:
    """A connected store's OAuth access token, else a configured store's API key (the webhook subscriptions
    API takes only the former)."""
    token = store.credentials.get("access_token") or store.credentials.get("api_key", "")
    return {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}


def rate_limit_wait(response: httpx.Response) -> float:
    wait = retry_after_seconds(response.headers.get("retry-after"))
    return COOL_DOWN_S if wait is None else wait


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def list_modified(
    api: PlatformClient, store: StoreConfig, since: datetime, now: Callable[[], datetime] = utc_now
) -> AsyncIterator[list[dict]]:
    orders: list[dict] = []
    params: dict[str, str] = {"modifiedAfter": utc_iso(since), "modifiedBefore": utc_iso(now())}
    while True:
        body, _ = await api.get_json(ORDERS, **params)
        orders.extend(body.get("result") or [])
        pagination = body.get("pagination") or {}
        cursor = pagination.get("nextPageCursor")
        if not pagination.get("hasNextPage") or not cursor:
            break
        params = {"cursor": cursor}  # the date range must not come along
    orders.sort(key=_modified)
    for start in range(0, len(orders), PAGE_SIZE):
        yield orders[start : start + PAGE_SIZE]


def _modified(raw: dict) -> datetime:
    stamp = raw.get("modifiedOn") or raw.get("createdOn")
    try:
        if isinstance(stamp, str):
            return iso(stamp)
    except ValueError:
        pass
    return _EARLIEST  # unmappable anyway; first, so it never holds the cursor back


async def fetch_order(api: PlatformClient, store: StoreConfig, order_id: str) -> dict:
    order, _ = await api.get_json(f"{ORDERS}/{quote(order_id, safe='')}")
    return order
