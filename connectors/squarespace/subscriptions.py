"""Squarespace webhook subscriptions kept alive: `order.create`, `order.update`, `extension.uninstall`.

developers.squarespace.com/webhooks/overview, .../notification-delivery (../shared/CONNECTING.md §4.3):
subscriptions are made by API with an OAuth token (API keys are refused), per website; the `secret` is
shown only by create (and rotate); Squarespace "may delete a webhook subscription if multiple requests are
unsuccessful", silently. So `ensure` lists the website's subscriptions and recreates what is gone.

One subscription per topic, not one for all three: a deletion then costs one topic, the health of each
topic is its own, and an `order.*` topic refused for want of scope does not take `extension.uninstall`
(which needs none) with it. Each has its own secret, kept in the store's credentials as
`webhook_secret:<topic>` beside its id `webhook_subscription:<topic>`; the verifier accepts any of them
(`signature.py`). A subscription to our URL whose secret we do not hold (one created just before a crash,
before its secret was saved) delivers nothing we could verify: it is deleted and made again.

The credentials are written through `save` (changes only, merged over what the registry holds then, so a
token refreshed meanwhile is not overwritten): `connectors.subscriptions.registry_writer`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from connectors.client import PlatformClient, RateLimitedError, RetryableError
from connectors.errors import PlatformError
from connectors.squarespace.signature import SECRET_PREFIX
from connectors.subscriptions import HookHealth, SaveCredentials
from plumbing.config import StoreConfig

SUBSCRIPTIONS = "/1.0/webhook_subscriptions"
WANTED = ("order.create", "order.update", "extension.uninstall")
ID_PREFIX = "webhook_subscription:"  # + topic: the id of the subscription we keep for that topic
_HEX_SECRET = re.compile(r"^[0-9a-fA-F]{16,1024}$")
_FAILED = (PlatformError, RetryableError, RateLimitedError)


async def ensure(api: PlatformClient, store: StoreConfig, callback_url: str, *, save: SaveCredentials) -> HookHealth:
    try:
        body, _ = await api.get_json(SUBSCRIPTIONS)
    except _FAILED as error:
        return HookHealth(WANTED, problems=(f"listing subscriptions failed: {error}",))
    listed = body.get("webhookSubscriptions") if isinstance(body, dict) else None
    ours = [s for s in listed or [] if isinstance(s, dict) and s.get("endpointUrl") == callback_url]
    found: list[str] = []
    created: list[str] = []
    revived: list[str] = []
    problems: list[str] = []
    changes: dict[str, str | None] = {}
    for topic in WANTED:
        held = store.credentials.get(ID_PREFIX + topic) if store.credentials.get(SECRET_PREFIX + topic) else None
        live = [s for s in ours if topic in (s.get("topics") or [])]
        if held and any(s.get("id") == held for s in live):
            found.append(topic)
            continue
        try:
            for stray in live:  # ours, but not verifiable by any secret we hold
                await _delete(api, str(stray.get("id")))
            made = await _create(api, callback_url, topic)
        except _FAILED as error:
            problems.append(f"{topic}: {error}")
            continue
        changes.update({ID_PREFIX + topic: made["id"], SECRET_PREFIX + topic: made["secret"]})
        (revived if store.credentials.get(ID_PREFIX + topic) else created).append(topic)
    if changes:
        try:
            await save(changes)
        except Exception as error:  # the next ensure finds them unverifiable and makes them again
            problems.append(f"new subscription secrets not saved: {type(error).__name__}")
    return HookHealth(WANTED, tuple(found), tuple(created), tuple(revived), tuple(problems))


async def _create(api: PlatformClient, callback_url: str, topic: str) -> dict[str, str]:
    body, _ = await api.request_json(
        "POST", SUBSCRIPTIONS, json={"endpointUrl": callback_url, "topics": [topic]}, idempotent=False
    )
    made: Any = body if isinstance(body, dict) else {}
    subscription_id, secret = made.get("id"), made.get("secret")
    if not isinstance(subscription_id, str) or not subscription_id or len(subscription_id) > 128:
        raise PlatformError(f"squarespace: created {topic} subscription has no id")
    if not isinstance(secret, str) or not _HEX_SECRET.match(secret):
        raise PlatformError(f"squarespace: created {topic} subscription has no hex secret")
    return {"id": subscription_id, "secret": secret}


async def _delete(api: PlatformClient, subscription_id: str) -> None:
    try:
        await api.request("DELETE", f"{SUBSCRIPTIONS}/{quote(subscription_id, safe='')}")
    except PlatformError as error:
        if error.status != 404:  # gone already is what we wanted
            raise
