"""The registry of connected stores: what every implementation promises (PostgreSQL, and its twin in memory).

Credentials go in and come out in clear only through `connect`, `credentials` and `replace_credentials`;
the implementations keep them sealed. A refresh is a compare-and-set on `credentials_version`, so of two
connector copies that refreshed one token only the first write lands and the other re-reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from connectors.stores.record import ConnectedStore, Credentials
from connectors.stores.sealing import Sealer


class StoreRegistry(Protocol):
    def rekeyed(self, sealer: Sealer) -> StoreRegistry:
        """The same stores read with other keys: what a restart with a new PERSONALIZE_CREDENTIALS_KEY sees."""
        ...

    async def connect(
        self,
        platform: str,
        store_id: str,
        merchant_email: str,
        credentials: Mapping[str, str],
        details: Mapping[str, str] | None = None,
    ) -> ConnectedStore:
        """Record a store as connected with these credentials: a new one, a reconnect, or fresh consent.

        `details` (not secret: the store's address, its poll interval) replace those kept before."""
        ...

    async def get(self, platform: str, store_id: str) -> ConnectedStore | None: ...

    async def stores(
        self, platform: str | None = None, *, connected_only: bool = True, changed_since: datetime | None = None
    ) -> list[ConnectedStore]:
        """Ordered by platform, then store id; `changed_since`: only those connected or updated since."""
        ...

    async def credentials(self, platform: str, store_id: str) -> Credentials:
        """Opened for the caller; raises `StoreNotConnected` when there are none."""
        ...

    async def replace_credentials(
        self, platform: str, store_id: str, credentials: Mapping[str, str], *, expected_version: int
    ) -> bool:
        """Write rotated credentials only over `expected_version`; False when another write came first."""
        ...

    async def disconnect(self, platform: str, store_id: str, reason: str) -> ConnectedStore | None:
        """Delete the credentials and mark the store disconnected; the first call's reason is kept."""
        ...

    async def reseal(self) -> int:
        """Seal every stored credential with the first key (after a key rotation); returns how many."""
        ...
