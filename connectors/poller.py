"""The reconciling poll: every `poll_interval`, re-read orders modified since (cursor - lookback).

Webhooks give speed; this catches what they miss (WooCommerce never retries,
Wix and BigCommerce retries arrive out of order, a connector may be down).
The cursor moves only after a page's events are acknowledged; a crash
re-reads the page and dedupe absorbs it. Copies of a connector share the
cursor and take turns polling each store (`Cursor.take_turn`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from connectors.client import PlatformClient
from connectors.errors import GrantRevokedError
from connectors.intake import Intake
from connectors.metrics import POLLS
from connectors.platform import PlatformAdapter
from connectors.seen import Cursor
from plumbing.config import StoreConfig
from schemas import utc_now

log = logging.getLogger(__name__)


class StorePoller:
    def __init__(
        self,
        adapter: PlatformAdapter,
        store: StoreConfig,
        api: PlatformClient,
        intake: Intake,
        cursor: Cursor,
        clock: Callable[[], datetime] = utc_now,
        interval: Callable[[], timedelta] | None = None,
        on_revoked: Callable[[str, str, str], Awaitable[object]] | None = None,
    ) -> None:
        self._adapter, self._store, self._api, self._intake, self._cursor = adapter, store, api, intake, cursor
        self._clock = clock
        # Asked before each wait (`connectors.hook_health`: slower while the store's webhooks are healthy).
        self._interval = interval or (lambda: store.poll_interval)
        # The platform says the store's grant is gone: disconnect it (`StoreLifecycle.disconnect`) and stop.
        self._on_revoked = on_revoked

    async def poll_once(self) -> int:
        """One reconciliation pass; returns how many orders it read."""
        cursor = await self._cursor.get()
        start = cursor or self._store.start_from or self._clock()
        since = start - self._store.lookback
        read = 0
        async for page in self._adapter.list_modified(self._api, self._store, since):
            accepted = await self._intake.accept(self._store, page, source="poll")
            read += len(page)
            if accepted:
                await self._cursor.advance(max(a.modified_at for a in accepted))
            log.debug(
                "%s page: %d orders, %d published", self._store.key, len(page), sum(a.verdict.publish for a in accepted)
            )
        if cursor is None and read == 0:
            await self._cursor.advance(start)  # remember where the first poll began
        return read

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            every = self._interval()
            interval = every.total_seconds()
            try:
                if await self._cursor.take_turn(every):
                    await self.poll_once()
                    POLLS.labels(self._store.platform, self._store.store_id, "ok").inc()
                else:
                    POLLS.labels(self._store.platform, self._store.store_id, "other_copy").inc()
            except GrantRevokedError as revoked:
                POLLS.labels(self._store.platform, self._store.store_id, "revoked").inc()
                log.warning("poll of %s: %s", self._store.key, revoked)
                if self._on_revoked is not None and await self._disconnected(str(revoked)):
                    return
            except Exception:  # a failed poll is retried next interval; the cursor did not move
                POLLS.labels(self._store.platform, self._store.store_id, "error").inc()
                log.exception("poll of %s failed; retrying in %.0fs", self._store.key, interval)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass

    async def _disconnected(self, reason: str) -> bool:
        assert self._on_revoked is not None
        try:
            await self._on_revoked(self._store.platform, self._store.store_id, reason)
            return True
        except Exception:  # the registry or the broker away: the next poll sees the 401 again and retries
            log.exception("disconnecting %s failed; retrying next interval", self._store.key)
            return False
