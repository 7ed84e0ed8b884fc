"""Store credentials encrypted at rest: sealed before they reach PostgreSQL, opened only by a connector.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) through MultiFernet: the first key of
`PERSONALIZE_CREDENTIALS_KEY` seals, every key listed opens, so a key is rotated by putting the new one
first, resealing (`StoreRegistry.reseal`), then dropping the old one. The store's identity is sealed with
its credentials and checked on opening, so a sealed value copied onto another store's row is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class SealingError(ValueError):
    """Credentials could not be opened: wrong key, tampered value, or another store's value."""


class CredentialsKeyError(ValueError):
    """`PERSONALIZE_CREDENTIALS_KEY` is missing or malformed; the message says how to make one."""


def new_key() -> str:
    """A fresh key, as `PERSONALIZE_CREDENTIALS_KEY` takes it."""
    return Fernet.generate_key().decode()


class Sealer:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise CredentialsKeyError("PERSONALIZE_CREDENTIALS_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except ValueError:
            raise CredentialsKeyError(
                "PERSONALIZE_CREDENTIALS_KEY: comma-separated keys, each 32 url-safe base64-encoded bytes "
                "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            ) from None

    @classmethod
    def from_setting(cls, value: SecretStr | None) -> Sealer:
        if value is None or not value.get_secret_value().strip():
            raise CredentialsKeyError("PERSONALIZE_CREDENTIALS_KEY is required to keep store credentials")
        return cls([key for key in value.get_secret_value().split(",") if key.strip()])

    def seal(self, store: str, credentials: Mapping[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps({"store": store, "credentials": dict(credentials)}).encode())

    def open(self, store: str, sealed: bytes) -> dict[str, str]:
        try:
            content = json.loads(self._fernet.decrypt(sealed))
        except InvalidToken:
            raise SealingError(f"the credentials of {store} do not open with any configured key") from None
        if content.get("store") != store:
            raise SealingError(f"the credentials on {store}'s row were sealed for another store")
        return dict(content["credentials"])

    def reseal(self, sealed: bytes) -> bytes:
        """The same value sealed with the first key (MultiFernet.rotate keeps the original timestamp)."""
        try:
            return self._fernet.rotate(sealed)
        except InvalidToken:
            raise SealingError("a sealed value opens with no configured key") from None
