"""Staying connected: each store's access token kept valid, refreshed once per store across every connector copy.

A platform whose tokens expire has `connectors/<platform>/tokens.py` with `refresh(http, app, credentials)`
(the store's whole new credentials; `GrantRevokedError` on `invalid_grant`) and, if its header is not
`Authorization: Bearer <access_token>`, `authorization(credentials) -> headers`. `keeper_for` finds it; a
store is kept when its credentials carry an `expires_at` (a refresh token is the platform's business: Wix
renews by client credentials); a YAML store with a pasted token has none and is sent as configured.

- Before a request, a token within `margin_s` of its `expires_at` is refreshed first. A refresh that fails
  for a passing reason (the token endpoint's 500, a timeout) while the token still works lets the request go
  with it; the next request tries again.
- Once per store: a copy refreshes only while it holds the store's lock (`tokens_locks`), and under the lock
  it re-reads the registry first, so a copy that waited finds the version moved and uses the winner's write.
  The write is the registry's compare-and-set on `credentials_version`: even a copy whose lease ran out
  cannot write over a newer grant. Within a copy, one request refreshes and its others wait for it.
- The rotated refresh token is in the registry before the new access token is used. Etsy spends the old
  one at once, so a write that fails is retried, and until it lands the new credentials are kept here and
  written before any other refresh of the store.
- A 401: the token is replaced (by another copy, or renewed here) and the request retried once. A 401 on a
  token this copy renewed less than `recent_s` ago is answered as it is: a wrong API key is not cured by a
  refresh per request.
- `GrantRevokedError` (the merchant removed the app, or changed their password): the store is disconnected
  (`StoreLifecycle.disconnect`: credentials deleted, `StoreDisconnected` with what to do), and every later
  request of it fails before it reaches the platform, until the store is started again (`forget`). An
  `invalid_grant` after another copy spent the refresh token (its lease ran out mid-refresh) is not a revoke:
  the registry is read again first (and once more after `revoke_recheck_s`), and a newer version is used.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx

from connectors.connect.apps import PlatformApp
from connectors.errors import GrantRevokedError
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.record import Credentials, StoreNotConnected
from connectors.stores.registry import StoreRegistry
from connectors.tokens_auth import KeptAuth
from connectors.tokens_locks import RefreshLocks, held
from plumbing.config import StoreConfig

log = logging.getLogger(__name__)

Refresh = Callable[[httpx.AsyncClient, PlatformApp, Mapping[str, str]], Awaitable[dict[str, str]]]
Authorization = Callable[[Mapping[str, str]], dict[str, str]]

REFRESH_MARGIN_S = 300.0  # of Etsy's hour: a poll interval or two of slack, and time to retry a failed refresh
RECENT_S = 60.0
LOCK_TTL_S = 30.0  # a refresh's lease: the token call (at most half of it) and the registry write
SAVE_ATTEMPTS = 4
# Renewed tokens are not added to the logs' redaction (plumbing.logs.redact_secrets): it keeps every value
# for the process's life and recompiles one pattern of all of them per addition, and a token a day per store
# would grow it without end. They are never logged: they go in a header and the registry, nowhere else.


def bearer(credentials: Mapping[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials['access_token']}"}


class TokenRefreshFailed(Exception):
    """The token has expired (or was refused) and renewing it failed for now: the request is not sent."""


@dataclass
class _Kept:
    """What one copy knows of one store."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    credentials: Credentials | None = None
    margin_s: float = 0.0  # the keeper's, or half the life its token had left when this copy first saw it
    unsaved: Credentials | None = None  # renewed, not yet in the registry (its version is the one to write over)
    renewed_at: float | None = None  # monotonic; when this copy last renewed it
    gone: str | None = None  # why no request of this store may reach the platform any more


class TokenKeeper:
    def __init__(
        self,
        app: PlatformApp,
        registry: StoreRegistry,
        lifecycle: StoreLifecycle,
        locks: RefreshLocks,
        http: httpx.AsyncClient,
        refresh: Refresh,
        *,
        authorization: Authorization = bearer,
        margin_s: float = REFRESH_MARGIN_S,
        recent_s: float = RECENT_S,
        lock_ttl_s: float = LOCK_TTL_S,
        save_backoff_s: float = 0.2,
        revoke_recheck_s: float = 2.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app, self._registry, self._lifecycle, self._locks = app, registry, lifecycle, locks
        self._http, self._refresh, self._authorization = http, refresh, authorization
        self._margin_s, self._recent_s, self._lock_ttl_s = margin_s, recent_s, lock_ttl_s
        self._save_backoff_s, self._revoke_recheck_s = save_backoff_s, revoke_recheck_s
        self._clock, self._monotonic = clock, monotonic
        self._stores: dict[str, _Kept] = {}

    @property
    def platform(self) -> str:
        return self._app.platform

    def keeps(self, store: StoreConfig) -> bool:
        """Its token expires (it has `expires_at`): a YAML store's pasted token has none and is sent as it is."""
        return bool(store.credentials.get("expires_at"))

    def auth(self, store: StoreConfig) -> KeptAuth:
        return KeptAuth(self, store.store_id)

    def forget(self, store_id: str) -> None:
        """The store stopped (or is restarting): its next request reads the registry afresh."""
        self._stores.pop(store_id, None)

    def headers(self, credentials: Mapping[str, str]) -> dict[str, str]:
        return self._authorization(credentials)

    async def fresh(self, store_id: str) -> Mapping[str, str]:
        """Credentials whose access token is good for at least the margin (renewed here if need be)."""
        kept = self._kept(store_id)
        current = await self._current(kept, store_id)
        if not self._due(kept, current.values) and kept.unsaved is None:
            return current.values
        return await self._renew(kept, store_id, current, after_401=False)

    async def after_unauthorized(self, store_id: str, used: Mapping[str, str]) -> Mapping[str, str] | None:
        """What to retry a request answered 401 with `used`; None: nothing newer, the 401 stands."""
        kept = self._kept(store_id)
        current = await self._current(kept, store_id)
        if current.values.get("access_token") != used.get("access_token"):
            return current.values  # renewed meanwhile by another request of this copy
        if kept.renewed_at is not None and self._monotonic() - kept.renewed_at < self._recent_s:
            return None
        renewed = await self._renew(kept, store_id, current, after_401=True)
        return None if renewed.get("access_token") == used.get("access_token") else renewed

    def _kept(self, store_id: str) -> _Kept:
        return self._stores.setdefault(store_id, _Kept())

    def _due(self, kept: _Kept, credentials: Mapping[str, str]) -> bool:
        return self._clock() >= _expires_at(credentials) - kept.margin_s

    def _keep(self, kept: _Kept, credentials: Credentials) -> Credentials:
        """What this copy now uses. A renewed token that lives less than twice the margin (a sandbox's seconds)
        is renewed at half its life instead, so a fresh token is never due at once (a refresh per request)."""
        if kept.credentials is None:
            kept.margin_s = self._margin_s
        elif kept.credentials.version != credentials.version:  # a renewed token: how long such a token lives
            left = _expires_at(credentials.values) - self._clock()
            kept.margin_s = min(self._margin_s, max(0.0, left / 2))
        kept.credentials = credentials
        return credentials

    def _expired(self, credentials: Mapping[str, str]) -> bool:
        return self._clock() >= _expires_at(credentials)

    async def _current(self, kept: _Kept, store_id: str) -> Credentials:
        if kept.gone:
            raise GrantRevokedError(kept.gone)
        if kept.credentials is None:
            async with kept.lock:
                if kept.credentials is None:
                    self._keep(kept, await self._read(kept, store_id))
        assert kept.credentials is not None
        return kept.credentials

    async def _read(self, kept: _Kept, store_id: str) -> Credentials:
        try:
            return await self._registry.credentials(self.platform, store_id)
        except StoreNotConnected:
            kept.gone = f"{self.platform}:{store_id} is not connected"
            raise GrantRevokedError(kept.gone) from None

    async def _renew(self, kept: _Kept, store_id: str, stale: Credentials, after_401: bool) -> Mapping[str, str]:
        async with kept.lock:
            if kept.gone:
                raise GrantRevokedError(kept.gone)
            if kept.credentials is not None and kept.credentials.version != stale.version:
                return kept.credentials.values  # another request of this copy renewed it while this one waited
            # Shielded: a poll stopped mid-refresh must not drop a refresh token the platform has just spent.
            return await asyncio.shield(self._renew_holding(kept, store_id, stale, after_401))

    async def _renew_holding(
        self, kept: _Kept, store_id: str, stale: Credentials, after_401: bool
    ) -> Mapping[str, str]:
        async with held(self._locks, f"{self.platform}:{store_id}", self._lock_ttl_s):
            current = await self._read(kept, store_id)
            unsaved, kept.unsaved = kept.unsaved, None
            if unsaved is not None and unsaved.version == current.version:
                current = await self._save(kept, store_id, unsaved.values, current.version)
            if current.version != stale.version:
                return self._keep(kept, current).values  # another copy renewed it: its write is the one to use
            return await self._refreshed(kept, store_id, current, after_401)

    async def _refreshed(self, kept: _Kept, store_id: str, current: Credentials, after_401: bool) -> Mapping[str, str]:
        try:
            async with asyncio.timeout(self._lock_ttl_s / 2):
                renewed = await self._refresh(self._http, self._app, current.values)
        except GrantRevokedError as error:
            return await self._revoked(kept, store_id, current, str(error))
        except Exception as error:
            if after_401 or self._expired(current.values):
                raise TokenRefreshFailed(f"{self.platform}:{store_id}: renewing its token failed: {error!r}") from None
            log.warning("renewing %s:%s's token failed (%r); it works a while yet", self.platform, store_id, error)
            return current.values
        kept.renewed_at = self._monotonic()
        saved = self._keep(kept, await self._save(kept, store_id, renewed, current.version))
        log.debug("renewed %s:%s's access token", self.platform, store_id)
        return saved.values

    async def _save(self, kept: _Kept, store_id: str, renewed: dict[str, str], version: int) -> Credentials:
        """`renewed` written over `version`; what the registry holds when another write came first."""
        for attempt in range(SAVE_ATTEMPTS):
            try:
                if await self._registry.replace_credentials(self.platform, store_id, renewed, expected_version=version):
                    return Credentials(dict(renewed), version + 1)
                log.warning(
                    "%s:%s's credentials changed during its refresh; using the registry's", self.platform, store_id
                )
                return await self._read(kept, store_id)
            except GrantRevokedError:
                raise
            except Exception as error:
                if attempt == SAVE_ATTEMPTS - 1:
                    # The old refresh token is spent: keep the new one here, to be written before anything else.
                    kept.unsaved = Credentials(dict(renewed), version)
                    log.error("%s:%s's renewed token is not saved yet: %r", self.platform, store_id, error)
                    return Credentials(dict(renewed), -version)  # not the registry's: `_keep` sees a new token
                await asyncio.sleep(self._save_backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    async def _revoked(self, kept: _Kept, store_id: str, used: Credentials, why: str) -> Mapping[str, str]:
        # Another copy may have spent the refresh token just now (its lease ran out while it refreshed): its
        # write follows its answer within moments, so the registry is read again, once more after a pause.
        for pause in (0.0, self._revoke_recheck_s):
            await asyncio.sleep(pause)
            again = await self._read(kept, store_id)
            if again.version != used.version:
                return self._keep(kept, again).values
        name = self.platform.capitalize()
        reason = (
            f"{why[:200]}. {name} no longer lets personalize read this store: the app was removed from it, or its "
            f"owner's password changed. Connect the store again (the Connect {name} button) to resume."
        )
        kept.gone = reason
        await self._lifecycle.disconnect(self.platform, store_id, reason)
        raise GrantRevokedError(reason)


def _expires_at(credentials: Mapping[str, str]) -> float:
    try:
        return float(credentials.get("expires_at") or "inf")
    except ValueError:
        return 0.0  # unreadable: renew it now rather than trust it


def keeper_for(
    app: PlatformApp,
    registry: StoreRegistry,
    lifecycle: StoreLifecycle,
    locks: RefreshLocks,
    http: httpx.AsyncClient,
    *,
    margin_s: float = REFRESH_MARGIN_S,
) -> TokenKeeper | None:
    """The keeper of a platform whose tokens expire (it has `connectors/<platform>/tokens.py`); None otherwise."""
    name = f"connectors.{app.platform}.tokens"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        return None
    authorization = getattr(module, "authorization", bearer)
    return TokenKeeper(
        app, registry, lifecycle, locks, http, module.refresh, authorization=authorization, margin_s=margin_s
    )
