"""A WooCommerce store's order webhooks, kept as we need them (`connectors.subscriptions` contract).

Topics: `order.created` and `order.updated` (the whole order: the mapping reads paid, cancelled and refunded from
it), `order.deleted` (an order trashed: only its id, fetched and read as cancelled) and `order.restored` (the
whole order back out of the trash, revived by the mapping). WooCommerce has no "paid" topic.

Ours are the store's webhooks delivering to our URL for it. Each is named after its topic and a fingerprint of
the store's webhook secret (the first 12 hex of its SHA-256: nothing to learn from it), because WooCommerce never
gives a secret back: a webhook of ours with another fingerprint signs with a secret we no longer hold (the store
was connected again) and is replaced. One that is `disabled` (WooCommerce's 7th consecutive failed delivery) or
`paused` is recreated rather than set active: `PUT status=active` keeps its `failure_count`, so one more failure
would disable it again at once, and a new webhook starts at 0 (../shared/CONNECTING.md §1.3, §6). The new one is
created before the old one is deleted, so no moment is left without one. Duplicates are deleted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from connectors.client import PlatformClient
from connectors.subscriptions import HookHealth
from connectors.woocommerce.client import revoked_on_401
from plumbing.config import StoreConfig

WEBHOOKS = "/wp-json/wc/v3/webhooks"
TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
PAGE_SIZE = 100  # the API's maximum
MAX_PAGES = 20  # 2,000 webhooks on one store is not a store we can sort out by listing


def name_of(topic: str, secret: str) -> str:
    return f"personalize {topic} {hashlib.sha256(secret.encode()).hexdigest()[:12]}"


def _same_url(a: object, b: str) -> bool:
    return isinstance(a, str) and a.rstrip("/") == b.rstrip("/")


async def listed(api: PlatformClient) -> list[dict[str, Any]]:
    """Every webhook of the store, of any status."""
    found: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        hooks, headers = await revoked_on_401(api, WEBHOOKS, status="all", per_page=PAGE_SIZE, page=page)
        found += [h for h in hooks or [] if isinstance(h, dict)]
        if not hooks or page >= int(headers.get("x-wp-totalpages") or 0):
            break
    return found


async def ensure(api: PlatformClient, store: StoreConfig, callback_url: str) -> HookHealth:
    if not store.webhook_secret:
        return HookHealth(TOPICS, problems=("the store has no webhook secret: its webhooks cannot be verified",))
    ours = [h for h in await listed(api) if _same_url(h.get("delivery_url"), callback_url)]
    active: list[str] = []
    created: list[str] = []
    revived: list[str] = []
    problems: list[str] = []
    for topic in TOPICS:
        name = name_of(topic, store.webhook_secret)
        mine = [h for h in ours if h.get("topic") == topic]
        current = [h for h in mine if h.get("name") == name]
        keep = next((h for h in current if h.get("status") == "active"), None)
        if keep is not None:
            active.append(topic)
        else:
            keep = await _create(api, topic, name, callback_url, store.webhook_secret)
            if keep is None:
                problems.append(f"{topic}: the store did not create the webhook")
                continue
            (revived if mine else created).append(topic)  # replaced (disabled, paused, stale), or new
        for old in mine:
            if old is not keep:
                await api.request("DELETE", f"{WEBHOOKS}/{int(old['id'])}", params={"force": "true"})
    return HookHealth(TOPICS, tuple(active), tuple(created), tuple(revived), tuple(problems))


async def _create(api: PlatformClient, topic: str, name: str, url: str, secret: str) -> dict[str, Any] | None:
    body = {"name": name, "topic": topic, "delivery_url": url, "secret": secret, "status": "active"}
    hook, _ = await api.request_json("POST", WEBHOOKS, json=body, idempotent=False)
    return hook if isinstance(hook, dict) and hook.get("status") == "active" else None
