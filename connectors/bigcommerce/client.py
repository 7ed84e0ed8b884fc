"""How to ask BigCommerce (REST v2 Orders): the token header, the modified-since listing, each order's products.

`base_url` is `https://api.bigcommerce.com/stores/{store_hash}`, so paths start at `/v2`.
Orders do not embed their products or shipping addresses (resource links):
every order read here gets both put into `raw["products"]` and
`raw["shipping_addresses"]`, so `mapping.map_order` sees a whole order and
fulfillment gets the address. That is 2 calls more for each new version of an
order (`known.py`: an order listed again unchanged costs none); 429s are
waited out by the shared client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.bigcommerce import ids
from connectors.bigcommerce.known import known_for
from connectors.client import PlatformClient
from connectors.errors import PlatformError
from plumbing.config import StoreConfig

ORDERS = "/v2/orders"
PAGE_SIZE = 250  # not stated in the docs; BigCommerce's own Python client pages with 250
RESET_MS = "x-rate-limit-time-reset-ms"


def headers(store: StoreConfig) -> dict[str, str]:
    return {"X-Auth-Token": store.credentials.get("access_token", ""), "Accept": "application/json"}


def rate_limit_wait(response: httpx.Response) -> float | None:
    """A 429 says how long until the 30 s quota window refills; without the header it is platform load."""
    try:
        return int(response.headers[RESET_MS]) / 1000
    except (KeyError, ValueError):
        return None


async def list_modified(api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
    page = 1
    while True:
        orders = await get_list(
            api, ORDERS, min_date_modified=iso(since), sort="date_modified:asc", limit=PAGE_SIZE, page=page
        )
        if not orders:
            return
        for order in orders:
            await complete(api, store, order)
        yield orders
        if len(orders) < PAGE_SIZE:
            return
        page += 1


async def fetch_order(api: PlatformClient, store: StoreConfig, order_id: str) -> dict:
    order, _ = await api.get_json(f"{ORDERS}/{ids.order_id(order_id)}")  # checked again where the path is built
    if not isinstance(order, dict):
        raise PlatformError(f"bigcommerce: order {order_id} is not a JSON object")
    await complete(api, store, order)
    return order


async def complete(api: PlatformClient, store: StoreConfig, order: dict) -> None:
    """Products and shipping addresses into the order: fetched, or known from this version fetched before."""
    known = known_for(api)
    rows = known.get(store, order)
    if rows is None:
        rows = (
            await sub_resource(api, order["id"], "products"),
            await sub_resource(api, order["id"], "shipping_addresses"),
        )
        known.put(store, order, rows)
    order["products"], order["shipping_addresses"] = rows


async def sub_resource(api: PlatformClient, order_id: object, name: str) -> list[dict]:
    rows: list[dict] = []
    page = 1
    while True:
        batch = await get_list(api, f"{ORDERS}/{order_id}/{name}", limit=PAGE_SIZE, page=page)
        rows.extend(batch)
        if len(batch) < PAGE_SIZE:
            return rows
        page += 1


async def get_list(api: PlatformClient, path: str, **params: Any) -> list[dict]:
    """A v2 collection; an empty one is `204 No Content`."""
    found, _ = await api.request_json("GET", path, params=params)
    if found is None:
        return []
    if not isinstance(found, list):
        raise PlatformError(f"bigcommerce: {path} answered {type(found).__name__}, not a list")
    return found


def iso(moment: datetime) -> str:
    """`min_date_modified` takes RFC-2822 or ISO-8601; ISO in UTC reads unambiguously in logs."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")
