"""A connected store as the registry keeps it; its credentials are never part of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

StoreStatus = Literal["connected", "disconnected"]


class StoreNotConnected(LookupError):
    """The store is unknown, or disconnected and its credentials deleted."""


@dataclass(frozen=True)
class ConnectedStore:
    platform: str
    store_id: str
    merchant_email: str
    status: StoreStatus
    credentials_version: int
    connected_at: datetime
    updated_at: datetime
    disconnected_at: datetime | None = None
    disconnect_reason: str | None = None
    # Not secret: how the connector reaches the store (`base_url`, `poll_interval`, ...), as the YAML names them.
    details: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.store_id}"


@dataclass(frozen=True)
class Credentials:
    """What a connector reads to call the platform; `version` is what a refresh must write over."""

    values: dict[str, str]
    version: int

    def __repr__(self) -> str:  # never printed, logged or put in an error by accident
        return f"Credentials(version={self.version}, keys={sorted(self.values)})"
