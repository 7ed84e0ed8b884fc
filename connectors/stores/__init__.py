"""The stores merchants connected: a registry in PostgreSQL, their credentials sealed at rest."""

from connectors.stores.record import ConnectedStore, Credentials, StoreNotConnected
from connectors.stores.registry import StoreRegistry
from connectors.stores.sealing import CredentialsKeyError, Sealer, SealingError, new_key

__all__ = [
    "ConnectedStore",
    "Credentials",
    "CredentialsKeyError",
    "Sealer",
    "SealingError",
    "StoreNotConnected",
    "StoreRegistry",
    "new_key",
]
