"""Requests and status changes taken in, finished orders forgotten: read the order, decide, write unless it moved.

A write refused as CONFLICT (another copy's write came between the read and
it, e.g. the scheduler issuing a link while a request arrives) is decided
again on a fresh read, so the outcome is the one the rules give for the order
as it is when the write lands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from notifier import policy
from notifier.link_state import LinkState
from notifier.store import LinkStore, Recorded
from schemas import OrderStatusChanged, PersonalizationRequested

ATTEMPTS = 20


class ConflictError(Exception):
    """The order changed under every one of `ATTEMPTS` decisions in a row: something writes it without end."""


async def _decided(store: LinkStore, order_key: str, attempt: Callable[[LinkState], Awaitable[Recorded]]) -> Recorded:
    for _ in range(ATTEMPTS):
        result = await attempt(await store.state(order_key))
        if result is not Recorded.CONFLICT:
            return result
    raise ConflictError(f"{order_key}: changed under {ATTEMPTS} decisions in a row")


async def record_request(store: LinkStore, request: PersonalizationRequested, now: datetime) -> Recorded:
    async def attempt(read: LinkState) -> Recorded:
        return await store.record_request(request, read, policy.on_request(read, request, now))

    return await _decided(store, request.order_key, attempt)


async def record_status(store: LinkStore, change: OrderStatusChanged, now: datetime) -> Recorded:
    async def attempt(read: LinkState) -> Recorded:
        return await store.record_status(change, read, policy.on_status(read, change), now)

    return await _decided(store, change.order_key, attempt)


async def forget(store: LinkStore, order_key: str, now: datetime) -> Recorded:
    """No more email for the order; an emailed reminder whose event is not out yet stays, event only."""

    async def attempt(read: LinkState) -> Recorded:
        forgotten = await store.forget(order_key, read, policy.forget(read), now)
        return Recorded.RECORDED if forgotten else Recorded.CONFLICT

    return await _decided(store, order_key, attempt)
