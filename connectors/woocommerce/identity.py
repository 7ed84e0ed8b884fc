"""What a connect flow learns from the store itself: that the keys it POSTed work, and the site's name.

The keys are tried on the one call the connector lives on (`GET /wp-json/wc/v3/orders?per_page=1`) against the
URL the merchant was sent to: a key POST that did not come from that store (anyone can POST to our callback)
fails here. A host that strips `Authorization` answers Basic with 401; WooCommerce then reads the keys from the
query string, so that is tried once and, when it works, remembered (`auth: query_string`). The name comes from
WordPress's public REST index (`GET /wp-json/`, `name`); a store that hides it is named by its address.
"""

from __future__ import annotations

import httpx

from connectors.woocommerce.client import AUTH_OPTION, ORDERS, QUERY_STRING, auth
from plumbing.config import StoreConfig

MAX_NAME = 120


class KeysRefusedError(Exception):
    """The store did not accept the keys it sent, or could not be reached: the flow cannot finish."""


async def verified_credentials(http: httpx.AsyncClient, store: StoreConfig) -> dict[str, str]:
    """The store's credentials that work (its keys, and the query-string option if its host needs it)."""
    status = await _try(http, store)
    if status == 401 and (store.base_url or "").startswith("https://"):
        with_query = store.model_copy(update={"credentials": {**store.credentials, AUTH_OPTION: QUERY_STRING}})
        if await _try(http, with_query) == 200:
            return dict(with_query.credentials)
    if status != 200:
        raise KeysRefusedError(f"the store answered {status} to its own new API key")
    return dict(store.credentials)


async def _try(http: httpx.AsyncClient, store: StoreConfig) -> int | str:
    try:
        answer = await http.get(f"{store.base_url}{ORDERS}", params={"per_page": "1"}, auth=auth(store))
    except httpx.HTTPError as error:
        raise KeysRefusedError(f"the store could not be reached: {type(error).__name__}") from None
    if answer.status_code == 200 and not isinstance(_json(answer), list):
        return "not the orders list"
    return answer.status_code


async def site_name(http: httpx.AsyncClient, base_url: str, fallback: str) -> str:
    try:
        answer = await http.get(f"{base_url}/wp-json/")
    except httpx.HTTPError:
        return fallback
    index = _json(answer) if answer.status_code == 200 else None
    name = index.get("name") if isinstance(index, dict) else None
    return name.strip()[:MAX_NAME] if isinstance(name, str) and name.strip() else fallback


def _json(answer: httpx.Response) -> object:
    try:
        return answer.json()
    except ValueError:
        return None
