"""BigCommerce order webhooks kept registered: `/v3/hooks` on the store, one hook per scope to our URL.

`store/order/created` and `store/order/updated` are enough: BigCommerce fires `updated` on any change to
an order, its status included, and the connector fetches the whole order whatever the scope said
(`statusUpdated` would only announce the same change twice). Each hook carries the store's own header
(`credentials.webhook_header_name` / `_value`, see `signature.py`): BigCommerce echoes it on every
delivery, and it is how the connector knows the delivery is the store's.

What is repaired, and how: a missing hook is created; one BigCommerce deactivated (`is_active: false`,
after ~48 h of failed deliveries) or whose header is not ours any more (the store was reinstalled and its
header renewed) is updated in place (`PUT {"is_active": true, "headers": …}`), which keeps its id. Hooks
are per store and per client id, so the list is only ever our app's own. A hook of ours to another
destination (an old address) is left alone: BigCommerce allows several, and it is not ours to judge.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from connectors.bigcommerce.signature import HEADER_NAME, HEADER_VALUE
from connectors.client import PlatformClient, RateLimitedError, RetryableError
from connectors.errors import PlatformError
from connectors.subscriptions import HookHealth
from plumbing.config import StoreConfig

HOOKS = "/v3/hooks"
WANTED = ("store/order/created", "store/order/updated")
PAGE_SIZE = 250
_FAILED = (PlatformError, RetryableError, RateLimitedError)  # after the client's own retries


def our_headers(store: StoreConfig) -> dict[str, str]:
    """The header every hook of the store is registered with; none for a store authenticated by signature only."""
    name, value = store.credentials.get(HEADER_NAME), store.credentials.get(HEADER_VALUE)
    return {name: value} if name and value else {}


async def ensure(api: PlatformClient, store: StoreConfig, callback_url: str) -> HookHealth:
    try:
        hooks = await _ours(api, callback_url)
    except _FAILED as error:
        return HookHealth(WANTED, problems=(f"listing the hooks failed ({_why(error)})",))
    headers = our_headers(store)
    found, created, revived, problems = [], [], [], []
    for scope in WANTED:
        hook = hooks.get(scope)
        try:
            if hook is None:
                body = {"scope": scope, "destination": callback_url, "is_active": True, "headers": headers}
                await api.request_json("POST", HOOKS, json=body, idempotent=False)
                created.append(scope)
            elif hook.get("is_active") is True and _same(hook.get("headers"), headers):
                found.append(scope)
            else:
                await api.request_json(
                    "PUT", f"{HOOKS}/{int(hook['id'])}", json={"is_active": True, "headers": headers}
                )
                revived.append(scope)
        except _FAILED as error:  # the platform's words may echo a header: only the status is kept
            problems.append(f"{scope}: {'creating' if hook is None else 'updating'} failed ({_why(error)})")
    return HookHealth(WANTED, tuple(found), tuple(created), tuple(revived), tuple(problems))


async def _ours(api: PlatformClient, callback_url: str) -> dict[str, dict]:
    """Our hooks to `callback_url`, by scope (the first of a scope, should there be more)."""
    by_scope: dict[str, dict] = {}
    page = 1
    while True:
        answer, _ = await api.request_json("GET", HOOKS, params={"page": page, "limit": PAGE_SIZE})
        rows = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(rows, list):
            raise PlatformError("bigcommerce: /v3/hooks answered no data list")
        for row in rows:
            if isinstance(row, dict) and row.get("destination") == callback_url and isinstance(row.get("scope"), str):
                by_scope.setdefault(row["scope"], row)
        if len(rows) < PAGE_SIZE:
            return by_scope
        page += 1


def _same(registered: object, ours: Mapping[str, str]) -> bool:
    """The hook's headers are ours (compared in constant time: they are the store's secret)."""
    if not isinstance(registered, dict):
        return not ours
    given = {str(k).lower(): str(v) for k, v in registered.items()}
    return set(given) == {k.lower() for k in ours} and all(
        hmac.compare_digest(given[name.lower()].encode(), value.encode()) for name, value in ours.items()
    )


def _why(error: Exception) -> str:
    status = getattr(error, "status", None)
    return f"answered {status}" if status else type(error).__name__
