"""Pending changes of a store's addresses: a new `merchant_email` or `reply_to` waits for its owner's yes.

Why: the API key alone would otherwise let whoever holds it (or stole it) send every merchant email, and the
customers' links when the merchant receives them, to an address of their choosing, and the customers' replies
too. The addresses a store starts with come from the YAML: the operator wrote them, they are trusted.

A change is recorded per store and field (`merchant_api:email-change:<platform>:<store_id>:<field>`, expiring
with it): the new address, the SHA-256 of a 32-byte token from `secrets`, the expiry. The raw token exists only
in the `MerchantEmailChangeRequested` event and the email the notifier sends from it. A newer request for the
same field replaces the older (its link stops working). Confirming compares the hashes in constant time, then
deletes the change in the same transaction that read it, so a link works once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from pydantic import AwareDatetime, BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.exceptions import WatchError

from plumbing.config import StoreSettings
from schemas import AddressField, utc_now

CONFIRM_WITHIN = timedelta(hours=24)
PREFIX = "merchant_api:email-change:"
FIELDS: tuple[AddressField, ...] = ("merchant_email", "reply_to")


class EmailChangeRefused(Exception):
    """The link does not apply a change: none waits (used, replaced, never asked), the token is wrong, or expired."""


class PendingChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    field: AddressField
    address: str
    token_sha256: str
    expires_at: AwareDatetime


def addresses_to_confirm(current: StoreSettings, wanted: StoreSettings) -> dict[AddressField, str]:
    """The fields whose new address nobody has shown to be theirs yet; removing a Reply-To needs no proof."""
    known = {current.merchant_email, current.reply_to}
    changed: dict[AddressField, str] = {}
    for field in FIELDS:
        address = getattr(wanted, field)
        if address is not None and address not in known:
            changed[field] = address
    return changed


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class EmailChanges:
    def __init__(self, redis: Redis, clock: Callable[[], datetime] = utc_now) -> None:
        self._redis = redis
        self._clock = clock

    async def request(self, store: str, field: AddressField, address: str) -> tuple[str, datetime]:
        """Record the change; answers the raw token (for the email only) and when it expires."""
        token = secrets.token_urlsafe(32)
        expires_at = self._clock() + CONFIRM_WITHIN
        pending = PendingChange(field=field, address=address, token_sha256=_digest(token), expires_at=expires_at)
        await self._redis.set(
            _key(store, field), pending.model_dump_json(), px=int(CONFIRM_WITHIN.total_seconds() * 1000)
        )
        return token, expires_at

    async def pending(self, store: str, field: AddressField) -> PendingChange | None:
        doc = await self._redis.get(_key(store, field))
        return PendingChange.model_validate_json(doc) if doc else None

    async def check(self, store: str, field: AddressField, token: str) -> PendingChange:
        """The change `token` confirms, left in place (the page that asks "confirm?"); raises `EmailChangeRefused`."""
        return self._valid(cast(bytes | None, await self._redis.get(_key(store, field))), token)

    async def confirm(self, store: str, field: AddressField, token: str) -> PendingChange:
        """Take the change if `token` is its own and still valid; raises `EmailChangeRefused` with the reason."""
        key = _key(store, field)
        while True:
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    pending = self._valid(cast(bytes | None, await pipe.get(key)), token)
                    pipe.multi()
                    pipe.delete(key)
                    await pipe.execute()
                    return pending
                except WatchError:
                    continue

    def _valid(self, doc: bytes | None, token: str) -> PendingChange:
        if doc is None:
            raise EmailChangeRefused("no change waits for this link: used, replaced by a newer one, or expired")
        pending = PendingChange.model_validate_json(doc)
        if not hmac.compare_digest(pending.token_sha256, _digest(token)):
            raise EmailChangeRefused("the link's token is not the one sent")
        if pending.expires_at <= self._clock():
            raise EmailChangeRefused("the link expired")
        return pending


def _key(store: str, field: AddressField) -> str:
    return f"{PREFIX}{store}:{field}"
