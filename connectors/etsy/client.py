"""How to ask Etsy (Open API v3): the two auth headers, receipts modified since (paged by offset), one receipt.

The store's `base_url` is `https://api.etsy.com` (or `https://openapi.etsy.com`: Etsy says the two hosts are
equivalent). Credentials: `keystring`, `shared_secret`, `access_token`, `shop_id`.

A store connected in the browser (`connect`) carries `refresh_token` and `expires_at` too: its token is kept
valid by `connectors/tokens.py` (with `tokens.refresh`), which sets the Bearer header per request. A YAML store
with a pasted `access_token` only has it sent as configured (Etsy's tokens already carry the `<user id>.`
prefix its Bearer header wants): when it expires Etsy answers 401 and each poll fails, logged, until the
operator puts a fresh token in the config; nothing is lost, the cursor does not move.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from connectors.client import PlatformClient
from connectors.errors import PlatformError
from plumbing.config import StoreConfig
from plumbing.settings import SettingsError

SHOPS = "/v3/application/shops"
PAGE_SIZE = 100  # getShopReceipts' maximum `limit`
EARLIEST = 946684800  # the OAS minimum of every *_created / *_last_modified filter (2000-01-01): older is a 400


def credential(store: StoreConfig, key: str) -> str:
    value = store.credentials.get(key)
    if not value:
        raise SettingsError(f"store {store.key}: credentials.{key} is required for Etsy")
    return value


def headers(store: StoreConfig) -> dict[str, str]:
    """Since Feb 2026 Etsy refuses an `x-api-key` without the shared secret: it is `keystring:shared_secret`."""
    return {
        "x-api-key": f"{credential(store, 'keystring')}:{credential(store, 'shared_secret')}",
        "Authorization": f"Bearer {credential(store, 'access_token')}",
    }


def receipts_path(store: StoreConfig) -> str:
    shop_id = credential(store, "shop_id")
    if not shop_id.isdigit():
        raise SettingsError(f"store {store.key}: credentials.shop_id must be Etsy's numeric shop id")
    return f"{SHOPS}/{shop_id}/receipts"


def unix_since(since: datetime) -> int:
    """Whole seconds, rounded down (the filter is inclusive: re-reading a second costs nothing), never before 2000."""
    return max(EARLIEST, int(since.timestamp()))


async def list_modified(api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
    """Receipts updated at or after `since`, oldest update first.

    Offset paging over a list sorted by update time can skip a receipt that is updated while we page (it
    moves to the end, the rest shift down by one); the next poll's lookback re-reads it.
    """
    offset = 0
    while True:
        body, _ = await api.get_json(
            receipts_path(store),
            min_last_modified=unix_since(since),
            sort_on="updated",
            sort_order="asc",
            limit=PAGE_SIZE,
            offset=offset,
        )
        results, count = page_of(body)
        if results:
            yield results
        offset += len(results)
        if not results or offset >= count:
            return


def page_of(body: object) -> tuple[list[dict], int]:
    """`ShopReceipts` is `{count, results}`; `count` is the total matching, not the page's length."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise PlatformError("etsy: receipts answered without {count, results}")
    return body["results"], int(body.get("count") or 0)


async def fetch_order(api: PlatformClient, store: StoreConfig, order_id: str) -> dict:
    receipt, _ = await api.get_json(f"{receipts_path(store)}/{order_id}")
    return receipt
