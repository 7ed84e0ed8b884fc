"""The stores one connector copy runs, changed while it runs: each one's HTTP client, poller and webhook route.

`Roster` starts and stops a store's work; `RegistryFollower` decides which stores to run from the registry:
all of its platform's connected stores at start, then, on every `stores` event of its platform, that store
as the registry has it now (the event says which store changed, the registry what it is). Reading the
registry rather than trusting the event makes the order of events, a replay of the topic and a missed
event all harmless: the last read wins.

YAML stores run from the YAML (which was seeded into the registry at start); other stores from the
registry's record and their credentials, opened here and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import OperationalError
from redis.asyncio import Redis

from connectors.budget import RateBudget, paced
from connectors.client import PlatformClient
from connectors.hook_health import HookKeeper, Revoked
from connectors.intake import Intake
from connectors.platform import PlatformAdapter
from connectors.poller import StorePoller
from connectors.seen import Cursor
from connectors.stores.details import StoreDetailsError, config_of
from connectors.stores.record import StoreNotConnected
from connectors.stores.registry import StoreRegistry
from connectors.stores.sealing import SealingError
from connectors.webhooks import StoreRoutes
from plumbing.config import StoreConfig
from plumbing.consumer import Outcome, Received
from plumbing.settings import SettingsError
from schemas import utc_now

log = logging.getLogger(__name__)

# A poll mid-request when its store is stopped finishes within this, or is cancelled (its cursor has not moved).
STOP_GRACE_S = 5.0
# A per-app delivery for a store not running here: the stores changed this lately are read from the registry.
CATCH_UP_WINDOW = timedelta(minutes=10)


@dataclass
class _Running:
    store: StoreConfig
    client: PlatformClient
    stop: asyncio.Event
    task: asyncio.Task


class Roster:
    def __init__(
        self,
        adapter: PlatformAdapter,
        intake: Intake,
        redis: Redis,
        routes: StoreRoutes,
        clients: dict[str, PlatformClient],
        make_client: Callable[[StoreConfig], PlatformClient],
        hooks: HookKeeper | None = None,
        forget: Callable[[str], None] = lambda store_id: None,  # what else knows of a stopped store (its tokens)
        owns: Callable[[str], bool] = lambda store_key: True,  # whether this copy polls it (`Copies.owns`)
        budget: RateBudget | None = None,  # the platform's quota: a per-app daily one paces every store's poll
    ) -> None:
        self._adapter, self._intake, self._redis = adapter, intake, redis
        self._routes, self._clients, self._make_client, self._forget = routes, clients, make_client, forget
        self._running: dict[str, _Running] = {}
        self._owns, self._budget = owns, budget
        # How many stores are being started (`RegistryFollower.start`): the daily quota paces each poll by the
        # stores there will be, not the few running yet, whose first turns would otherwise be short.
        self.expected = 0
        # The store's webhooks kept alive, and its poll rate (`connectors.hook_health`); None: no schedule.
        self.hooks = hooks
        # A store whose grant is gone (a poll's or a check's GrantRevokedError): `StoreLifecycle.disconnect` where
        # there is a registry; None: it is only logged (a YAML store is fixed in the YAML).
        self.on_revoked: Revoked | None = None

    def __len__(self) -> int:
        return len(self._running)

    def running(self, store_id: str) -> bool:
        return store_id in self._running

    def runs(self, store: StoreConfig) -> bool:
        """Already running with exactly this configuration."""
        running = self._running.get(store.store_id)
        return running is not None and running.store == store

    def poll_interval(self, store: StoreConfig) -> timedelta:
        """Asked before each wait: the store's own (slower while its webhooks are healthy), or what the daily
        quota leaves each of the stores, if that is longer."""
        wanted = self.hooks.poll_interval(store) if self.hooks is not None else store.poll_interval
        return paced(wanted, self._budget, max(len(self._running), self.expected))

    async def start(self, store: StoreConfig) -> None:
        """Poll it and route its webhooks; a store running with another configuration is restarted."""
        await self.stop(store.store_id)
        client = self._make_client(store)
        try:
            self._routes.add(store)
        except SettingsError:
            await client.aclose()
            raise
        self._clients[store.key] = client
        stop = asyncio.Event()
        cursor = Cursor(self._redis, self._adapter.name, store.store_id)
        hooks = self.hooks
        poller = StorePoller(
            self._adapter,
            store,
            client,
            self._intake,
            cursor,
            interval=lambda: self.poll_interval(store),
            on_revoked=self.on_revoked,
            owns=self._owns,
        )
        self._running[store.store_id] = _Running(store, client, stop, asyncio.create_task(poller.run(stop)))
        if hooks is not None:
            hooks.watch(store, client, self.on_revoked)

    async def stop(self, store_id: str) -> bool:
        """No more webhooks routed to it, its poll stopped, its client closed; False when it was not running."""
        self._routes.remove(store_id)
        if self.hooks is not None:
            self.hooks.forget(store_id)
        running = self._running.pop(store_id, None)
        if running is None:
            return False
        running.stop.set()
        _, late = await asyncio.wait([running.task], timeout=STOP_GRACE_S)
        for task in late:
            task.cancel()
        await asyncio.gather(running.task, return_exceptions=True)
        self._clients.pop(running.store.key, None)
        await running.client.aclose()
        self._forget(store_id)
        return True

    async def run_until(self, stop: asyncio.Event) -> None:
        """Keep the stores running until `stop`, then stop them all (the service watches this)."""
        await stop.wait()
        await asyncio.gather(*(self.stop(store_id) for store_id in list(self._running)))


class RegistryFollower:
    """Runs the registry's stores of one platform; a consumer handler of the `stores` topic."""

    def __init__(
        self,
        platform: str,
        registry: StoreRegistry,
        roster: Roster,
        yaml_stores: Mapping[str, StoreConfig],
        clock: Callable[[], datetime] = utc_now,
        app_webhook_secret: str | None = None,
    ) -> None:
        self._platform, self._registry, self._roster, self._yaml = platform, registry, roster, yaml_stores
        self._clock = clock
        # Etsy and Wix sign every store's deliveries with the app's one secret (Etsy's endpoint secret, Wix's
        # key pair): the stores connected through the app verify with the one in the settings, not the copy
        # each kept when it was connected, so a secret rotated in the environment holds for all at the restart.
        self._app_webhook_secret = app_webhook_secret
        # The `stores` topic and a webhook's catch-up may follow one store at once; a start is not reentrant.
        self._following = asyncio.Lock()

    async def start(self) -> int:
        stores = await self._registry.stores(self._platform)
        self._roster.expected = len(stores)
        try:
            for store in stores:
                await self.follow(store.store_id)
        finally:
            self._roster.expected = 0
        return len(self._roster)

    async def catch_up(self, store_id: str | None) -> None:
        """A webhook named a store not running here (`StoreRoutes.find`): run it if the registry has it
        connected, ahead of its `StoreConnected`. None (a per-app delivery, named by the platform's id):
        every store connected or changed within `CATCH_UP_WINDOW` that is not running yet."""
        if store_id is not None:
            await self.follow(store_id)
            return
        try:
            lately = await self._registry.stores(self._platform, changed_since=self._clock() - CATCH_UP_WINDOW)
        except OperationalError as error:
            raise ConnectionError(f"the store registry is unavailable: {type(error).__name__}") from None
        for kept in lately:
            if not self._roster.running(kept.store_id):
                await self.follow(kept.store_id)

    async def follow(self, store_id: str) -> None:
        async with self._following:
            await self._follow(store_id)

    async def _follow(self, store_id: str) -> None:
        """Run the store as the registry has it now, or stop it when it is not connected."""
        try:
            store = await self._wanted(store_id)
        except OperationalError as error:  # PostgreSQL away: an outage the consume loop waits out, not a bad event
            raise ConnectionError(f"the store registry is unavailable: {type(error).__name__}") from None
        if store is None:
            if await self._roster.stop(store_id):
                log.info("stopped store %s:%s: not connected", self._platform, store_id)
            return
        if self._roster.runs(store):
            return
        try:
            await self._roster.start(store)
        except SettingsError as error:
            log.error("store %s not started: %s", store.key, error)
            return
        log.info("running store %s", store.key)

    async def _wanted(self, store_id: str) -> StoreConfig | None:
        kept = await self._registry.get(self._platform, store_id)
        if kept is None or kept.status != "connected":
            return None
        if store_id in self._yaml:
            return self._yaml[store_id]
        try:
            credentials = await self._registry.credentials(self._platform, store_id)
            store = config_of(kept, credentials.values)
        except StoreNotConnected:  # disconnected between the two reads
            return None
        except (StoreDetailsError, SealingError) as error:
            log.error("store %s cannot run: %s", kept.key, error)
            return None
        if self._app_webhook_secret is None:
            return store
        return store.model_copy(update={"webhook_secret": self._app_webhook_secret})

    async def __call__(self, batch: list[Received]) -> Outcome:
        changed = dict.fromkeys(
            item.event.order_key.partition(":")[2]
            for item in batch
            if item.event.order_key.partition(":")[0] == self._platform
        )
        for store_id in changed:
            await self.follow(store_id)
        return Outcome()
