"""The registry in memory, for tests: the same promises as PostgreSQL, credentials sealed all the same."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from connectors.stores.record import ConnectedStore, Credentials, StoreNotConnected
from connectors.stores.sealing import Sealer


class MemoryStoreRegistry:
    def __init__(self, sealer: Sealer, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._sealer = sealer
        self._clock = clock
        self._stores: dict[tuple[str, str], ConnectedStore] = {}
        self.sealed: dict[tuple[str, str], bytes] = {}  # what PostgreSQL would hold: tests look for secrets here
        self._lock = asyncio.Lock()

    def rekeyed(self, sealer: Sealer) -> MemoryStoreRegistry:
        """The same stores read with other keys: what a restart with a new PERSONALIZE_CREDENTIALS_KEY sees."""
        twin = MemoryStoreRegistry(sealer, self._clock)
        twin._stores, twin.sealed, twin._lock = self._stores, self.sealed, self._lock
        return twin

    async def connect(
        self,
        platform: str,
        store_id: str,
        merchant_email: str,
        credentials: Mapping[str, str],
        details: Mapping[str, str] | None = None,
    ) -> ConnectedStore:
        async with self._lock:
            now = self._clock()
            old = self._stores.get((platform, store_id))
            store = ConnectedStore(
                platform=platform,
                store_id=store_id,
                merchant_email=merchant_email,
                status="connected",
                credentials_version=old.credentials_version + 1 if old else 1,
                connected_at=now if old is None or old.status == "disconnected" else old.connected_at,
                updated_at=now,
                details=dict(details or {}),
            )
            self._stores[(platform, store_id)] = store
            self.sealed[(platform, store_id)] = self._sealer.seal(store.key, credentials)
            return store

    async def get(self, platform: str, store_id: str) -> ConnectedStore | None:
        return self._stores.get((platform, store_id))

    async def stores(
        self, platform: str | None = None, *, connected_only: bool = True, changed_since: datetime | None = None
    ) -> list[ConnectedStore]:
        return [
            store
            for _, store in sorted(self._stores.items())
            if (platform is None or store.platform == platform)
            and (store.status == "connected" or not connected_only)
            and (changed_since is None or store.updated_at >= changed_since)
        ]

    async def credentials(self, platform: str, store_id: str) -> Credentials:
        store = self._stores.get((platform, store_id))
        sealed = self.sealed.get((platform, store_id))
        if store is None or sealed is None:
            raise StoreNotConnected(f"{platform}:{store_id} is not connected")
        return Credentials(self._sealer.open(store.key, sealed), store.credentials_version)

    async def replace_credentials(
        self, platform: str, store_id: str, credentials: Mapping[str, str], *, expected_version: int
    ) -> bool:
        async with self._lock:
            store = self._stores.get((platform, store_id))
            if store is None or store.status != "connected" or store.credentials_version != expected_version:
                return False
            self._stores[(platform, store_id)] = replace(
                store, credentials_version=expected_version + 1, updated_at=self._clock()
            )
            self.sealed[(platform, store_id)] = self._sealer.seal(store.key, credentials)
            return True

    async def disconnect(self, platform: str, store_id: str, reason: str) -> ConnectedStore | None:
        async with self._lock:
            store = self._stores.get((platform, store_id))
            if store is None:
                return None
            if store.status == "connected":
                now = self._clock()
                store = replace(
                    store, status="disconnected", updated_at=now, disconnected_at=now, disconnect_reason=reason
                )
                self._stores[(platform, store_id)] = store
            self.sealed.pop((platform, store_id), None)
            return store

    async def reseal(self) -> int:
        async with self._lock:
            for where, sealed in self.sealed.items():
                self.sealed[where] = self._sealer.reseal(sealed)
            return len(self.sealed)
