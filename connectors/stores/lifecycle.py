"""Connecting and disconnecting a store: the registry's write, then the event that tells every service.

The registry is the truth and is written first; the event follows. A crash between the two leaves the
registry right and the event missing: connectors read the registry at start and on every event of a store,
so the next event of that store (or a restart) puts them right, and running the command again publishes it.

YAML stores are seeded into the registry by their connector at each start, and the YAML wins for them:
a changed credential or address in the YAML replaces the registry's, and a YAML store disconnected with
`personalize stores disconnect` is connected again at the next start (remove it from the YAML to keep it
out). A seed that changes nothing writes nothing and publishes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from connectors.stores.details import connection_of
from connectors.stores.record import ConnectedStore, StoreNotConnected
from connectors.stores.registry import StoreRegistry
from plumbing.config import StoreConfig
from schemas import Event, StoreConnected, StoreDisconnected, StoreUpdated, store_key

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Event]], Awaitable[None]]


class StoreLifecycle:
    def __init__(self, registry: StoreRegistry, publish: Publish) -> None:
        self._registry = registry
        self._publish = publish

    async def connect(
        self,
        platform: str,
        store_id: str,
        merchant_email: str,
        credentials: Mapping[str, str],
        details: Mapping[str, str] | None = None,
    ) -> ConnectedStore:
        """Connected, sealed, announced: `StoreConnected`, or `StoreUpdated` for a store connected already."""
        before = await self._registry.get(platform, store_id)
        kind = StoreUpdated if before is not None and before.status == "connected" else StoreConnected
        key = store_key(platform, store_id)
        fields = {"order_key": key, "platform": platform, "store_id": store_id, "merchant_email": merchant_email}
        event = kind.model_validate(fields)  # first: an unknown platform or a bad address writes nothing
        store = await self._registry.connect(platform, store_id, merchant_email, credentials, details)
        await self._publish([event])
        log.info("store %s %s", key, "updated" if kind is StoreUpdated else "connected")
        return store

    async def disconnect(self, platform: str, store_id: str, reason: str) -> ConnectedStore | None:
        """Credentials deleted, store marked, `StoreDisconnected` published; None for a store never connected."""
        store = await self._registry.disconnect(platform, store_id, reason)
        if store is None:
            return None
        fields = {
            "order_key": store.key,
            "platform": platform,
            "store_id": store_id,
            "reason": store.disconnect_reason or reason,
            "merchant_email": store.merchant_email,
            "disconnected_at": store.disconnected_at,
        }
        await self._publish([StoreDisconnected.model_validate(fields)])
        log.info("store %s disconnected: %s", store.key, store.disconnect_reason or reason)
        return store

    async def updated(self, platform: str, store_id: str) -> None:
        """`StoreUpdated` for a store whose credentials were written in place (new webhook secrets): every copy
        reads it again. Nothing for a store no longer connected: its disconnect was announced already."""
        store = await self._registry.get(platform, store_id)
        if store is None or store.status != "connected":
            return
        fields = {"order_key": store.key, "platform": platform, "store_id": store_id}
        await self._publish([StoreUpdated.model_validate({**fields, "merchant_email": store.merchant_email})])

    async def seed(self, stores: Iterable[StoreConfig]) -> int:
        """Write the YAML's stores where the registry differs from the YAML; returns how many were written."""
        written = 0
        for store in stores:
            credentials, details = connection_of(store)
            if await self._same(store, credentials, details):
                continue
            await self.connect(store.platform, store.store_id, store.merchant_email, credentials, details)
            written += 1
        return written

    async def _same(self, store: StoreConfig, credentials: dict[str, str], details: dict[str, str]) -> bool:
        kept = await self._registry.get(store.platform, store.store_id)
        if kept is None or kept.status != "connected" or kept.merchant_email != store.merchant_email:
            return False
        try:
            opened = await self._registry.credentials(store.platform, store.store_id)
        except StoreNotConnected:
            return False
        return kept.details == details and opened.values == credentials
