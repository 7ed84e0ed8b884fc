"""Stores core learns from the `stores` topic (connected with `personalize stores connect` or a connect flow),
beside the YAML's. Kept in Redis with the directory, so every core copy and the merchant API see them.

A learned store is a store like a YAML one: its record (settings, products) is the merchant's, written
through the API; until then its settings are the defaults with the merchant email of the event.
`StoreUpdated` changes that email only while the merchant has not written the store's settings (once they
have, the API owns them, as for a YAML store after its seed).

`StoreDisconnected` marks the store and keeps it: its connector has stopped reading it, so no new order
arrives, while the orders in flight finish (a link already sent can still be used, the order is still
fulfilled). An order event of it published before the disconnect is still taken. Connected again, the
store goes on with its record as it was.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from plumbing.config import StoreConfig
from plumbing.consumer import Outcome, Received
from schemas import EmailAddress, Platform, StoreConnected, StoreDisconnected, StoreUpdated

LEARNED = "core:dir:learned"  # store key -> LearnedStore (JSON)
StoreEvent = StoreConnected | StoreUpdated | StoreDisconnected


class LearnedStore(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    store_id: str
    merchant_email: EmailAddress
    status: Literal["connected", "disconnected"] = "connected"
    reason: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.store_id}"

    def config(self) -> StoreConfig:
        """The store with every setting at its default but the merchant email."""
        return StoreConfig.model_validate(self.model_dump(include={"platform", "store_id", "merchant_email"}))


def learned(before: LearnedStore | None, event: StoreEvent) -> LearnedStore | None:
    """What the store is after `event`; None: nothing to keep (a disconnect of a store never learned)."""
    if isinstance(event, StoreDisconnected):
        if before is None:
            return None
        return before.model_copy(update={"status": "disconnected", "reason": event.reason})
    return LearnedStore(platform=event.platform, store_id=event.store_id, merchant_email=event.merchant_email)


class _Learns(Protocol):
    async def learn(self, event: StoreEvent) -> None: ...


class _Releases(Protocol):
    async def release(self, store_key: str) -> int: ...


class StoresHandler:
    """Consumer handler of the `stores` topic: each store event changes the directory's learned stores; a
    store connected has its orders that came first published again (`core.parked`)."""

    def __init__(self, directory: _Learns, parking: _Releases | None = None) -> None:
        self._directory, self._parking = directory, parking

    async def __call__(self, batch: list[Received]) -> Outcome:
        for item in batch:
            event = item.event
            assert isinstance(event, StoreConnected | StoreUpdated | StoreDisconnected)  # the topic's only events
            await self._directory.learn(event)
            if self._parking is not None and not isinstance(event, StoreDisconnected):
                await self._parking.release(event.order_key)  # learned first: the handler parks no more of it
        return Outcome()
