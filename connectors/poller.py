"""The reconciling poll: every `poll_interval`, re-read orders modified since (cursor - lookback).

Webhooks give speed; this catches what they miss (WooCommerce never retries,
Wix and BigCommerce retries arrive out of order, a connector may be down).
The cursor moves only after a page's events are acknowledged; a crash
re-reads the page and dedupe absorbs it. One copy of the connector owns
each store's poll (`connectors.copies`), at the store's own moment in the
interval; the cursor's turn (`Cursor.take_turn`) keeps two copies that
both think they own it, while the copies change, from polling it twice.
A store never polled (just connected) is polled at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from connectors.budget import OverBudgetError
from connectors.client import PlatformClient
from connectors.copies import next_slot_in
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
        owns: Callable[[str], bool] = lambda store_key: True,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._adapter, self._store, self._api, self._intake, self._cursor = adapter, store, api, intake, cursor
        self._clock = clock
        # Asked before each wait (`connectors.hook_health`: slower while the store's webhooks are healthy).
        self._interval = interval or (lambda: store.poll_interval)
        # The platform says the store's grant is gone: disconnect it (`StoreLifecycle.disconnect`) and stop.
        self._on_revoked = on_revoked
        self._owns, self._wall_clock = owns, wall_clock  # `Copies.owns`; the clock the copies' slots agree on

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
        key, platform, store_id = self._store.key, self._store.platform, self._store.store_id
        try:
            due_now = await self._cursor.get() is None  # never polled: read what is there without waiting
        except Exception:
            due_now = False
        while not stop.is_set():
            every = self._interval()
            interval = every.total_seconds()
            if not due_now and await _stopped(stop, next_slot_in(key, interval, self._wall_clock())):
                return
            due_now = False
            if not self._owns(key):
                POLLS.labels(platform, store_id, "other_copy").inc()
                await _stopped(stop, min(1.0, interval))  # past this slot, whoever owns the store now
                continue
            try:
                if await self._cursor.take_turn(every):
                    await self.poll_once()
                    POLLS.labels(platform, store_id, "ok").inc()
                else:
                    POLLS.labels(platform, store_id, "other_copy").inc()
            except OverBudgetError as over:  # the quota's, not the store's fault: the next slot reads what was missed
                POLLS.labels(platform, store_id, "over_budget").inc()
                log.warning("poll of %s skipped: %s", key, over)
                await self._give_back_turn()
            except GrantRevokedError as revoked:
                POLLS.labels(platform, store_id, "revoked").inc()
                log.warning("poll of %s: %s", key, revoked)
                if self._on_revoked is not None and await self._disconnected(str(revoked)):
                    return
            except Exception:  # a failed poll is retried at the next slot; the cursor did not move
                POLLS.labels(platform, store_id, "error").inc()
                log.exception("poll of %s failed; retrying in at most %.0fs", key, interval)
            await _stopped(stop, min(1.0, interval / 10))  # past this slot, so the next wait is for the next one

    async def _give_back_turn(self) -> None:
        try:
            await self._cursor.give_back_turn()
        except Exception:  # Redis away: the turn runs out by itself
            log.warning("could not give back the poll turn of %s", self._store.key)

    async def _disconnected(self, reason: str) -> bool:
        assert self._on_revoked is not None
        try:
            await self._on_revoked(self._store.platform, self._store.store_id, reason)
            return True
        except Exception:  # the registry or the broker away: the next poll sees the 401 again and retries
            log.exception("disconnecting %s failed; retrying next interval", self._store.key)
            return False


async def _stopped(stop: asyncio.Event, wait_s: float) -> bool:
    """Wait `wait_s`, or less if `stop` is set first; whether it was."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, wait_s))
    except TimeoutError:
        return False
    return True
