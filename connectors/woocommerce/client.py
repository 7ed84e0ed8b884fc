"""How to ask WooCommerce (REST API v3): auth, the modified-since listing and its pages, one order.

Store options in `credentials`: `consumer_key`, `consumer_secret`, and `auth: query_string` for a host that
strips `Authorization` (HTTPS only; the default is Basic over HTTPS, OAuth 1.0a over HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from datetime import UTC, datetime
from typing import Any

import httpx
from woocommerce.oauth import OAuth

from connectors.client import PlatformClient
from connectors.errors import GrantRevokedError, PlatformError
from connectors.woocommerce import ids
from plumbing.config import StoreConfig
from plumbing.settings import SettingsError

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


class QueryStringAuth(httpx.Auth):
    """`?consumer_key=…&consumer_secret=…`, WooCommerce's fallback over HTTPS for hosts that strip the
    `Authorization` header (its `perform_basic_authentication` reads these two parameters when the header
    is missing). The URL then carries the secret: errors and logs here name only the request's path."""

    def __init__(self, consumer_key: str, consumer_secret: str) -> None:
        self._key, self._secret = consumer_key, consumer_secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.url = request.url.copy_merge_params({"consumer_key": self._key, "consumer_secret": self._secret})
        yield request


# WooCommerce says nothing when a merchant revokes a key (or deletes its WordPress user): the key's calls answer 401
# from then on (`WC_REST_Authentication`, ../shared/CONNECTING.md §1.2). The poll, which reads with a key that
# worked when the store was connected, takes that 401 as the revocation; the merchant reads this reason.
REVOKED = (
    "WooCommerce refused the store's API key (401): it was revoked in WooCommerce › Settings › Advanced › REST API, "
    "or the WordPress user it belongs to was deleted. Connect the store again to give personalize a new key."
)

AUTH_OPTION = "auth"  # `credentials.auth: query_string` chooses QueryStringAuth; anything else is refused
QUERY_STRING = "query_string"


def auth(store: StoreConfig) -> httpx.Auth:
    """Basic auth over HTTPS (or the query string, when the store says so); OAuth 1.0a over HTTP
    (WooCommerce refuses Basic and the query string there)."""
    key, secret = store.credentials.get("consumer_key", ""), store.credentials.get("consumer_secret", "")
    https = (store.base_url or "").startswith("https://")
    option = store.credentials.get(AUTH_OPTION)
    if option is not None and option != QUERY_STRING:
        raise SettingsError(
            f"store {store.key}: credentials.{AUTH_OPTION} is {option!r}; the one option is {QUERY_STRING}"
        )
    if option == QUERY_STRING:
        if not https:
            raise SettingsError(
                f"store {store.key}: credentials.{AUTH_OPTION}: {QUERY_STRING} sends the secret in the URL, so it "
                "needs an https:// base_url (WooCommerce accepts it only over HTTPS)"
            )
        return QueryStringAuth(key, secret)
    if https:
        return httpx.BasicAuth(key, secret)
    return WooOAuth1(key, secret)


async def list_modified(api: PlatformClient, store: StoreConfig, since: datetime) -> AsyncIterator[list[dict]]:
    page = 1
    while True:
        orders, headers = await revoked_on_401(
            api,
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


async def revoked_on_401(api: PlatformClient, path: str, **params: Any) -> tuple[Any, httpx.Headers]:
    """`api.get_json`, a 401 raised as the store's revoked key (`GrantRevokedError`)."""
    try:
        return await api.get_json(path, **params)
    except PlatformError as error:
        if error.status == 401:
            raise GrantRevokedError(REVOKED) from None
        raise


async def fetch_order(api: PlatformClient, store: StoreConfig, order_id: str) -> dict:
    order, _ = await api.get_json(f"{ORDERS}/{ids.order_id(order_id)}")  # checked again where the path is built
    return order
