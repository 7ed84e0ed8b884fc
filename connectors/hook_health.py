"""Webhooks kept alive: each running store's `subscriptions.ensure` on a schedule, and the poll rate that follows.

For platforms whose webhooks are registered per store by API (`connectors/<platform>/subscriptions.py`:
WooCommerce, BigCommerce, Squarespace), a platform may disable a webhook after failed deliveries (WooCommerce on
the 7th) or delete it (Squarespace), and says nothing. So every PERSONALIZE_WEBHOOK_HEALTH_INTERVAL (15 minutes,
each store's turn jittered ±20 %, the first within a tenth of it after the store starts) the store's webhooks are
listed and what is missing or disabled is made again (`ensure`). What was missed meanwhile, the poll finds: it
reads by modified time whatever the webhooks did.

The verdict sets the poll rate: while a store's webhooks are unhealthy (not yet checked, a check failed,
something was not made right, or had to be made again this time) it is polled at its own `poll_interval`; while they are healthy it may be polled
PERSONALIZE_WEBHOOK_HEALTHY_POLL_FACTOR times slower (5), since the webhooks carry the orders and the poll only
reconciles. The poller asks `poll_interval(store)` before each wait.

Copies of a connector share the work through Redis: one copy per store per interval takes the turn and checks
(two copies creating and deleting the same store's webhooks at once could delete each other's), and writes the
verdict for the others to read. A check that finds the store's key revoked (401) disconnects it (`on_revoked`).

A platform whose `ensure` takes `save` (Squarespace: a subscription's secret is shown once, at creation) is
checked only with `save_for` set (the connector sets it with its store registry): without a registry to keep
the new secrets in, a check would make subscriptions whose deliveries nobody can verify, so it is not run and
the store is polled at full rate.

Callback URL: PERSONALIZE_CONNECT_BASE_URL + `/webhooks/<platform>/<store_id>`; without it (or without a
subscriptions module) there is no schedule and every store is polled at its own interval.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from prometheus_client import Counter
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis

from connectors.client import PlatformClient
from connectors.connect.apps import app_for
from connectors.errors import GrantRevokedError
from connectors.subscriptions import HookHealth, SaveCredentials
from plumbing.config import StoreConfig
from plumbing.durations import Duration
from plumbing.settings import SettingsError

log = logging.getLogger(__name__)

CHECKS = Counter(
    "connector_webhook_checks_total", "Webhook health checks of a store, by result", ["platform", "result"]
)
PREFIX = "connector:hook-health:"
JITTER = 0.2

# (api, store, callback_url) -> HookHealth, with the keyword `save` where the platform needs it (see above)
Ensure = Callable[..., Awaitable[HookHealth]]
Revoked = Callable[[str, str, str], Awaitable[object]]  # platform, store id, reason: `StoreLifecycle.disconnect`
SaveFor = Callable[[StoreConfig], SaveCredentials]  # the `save` of one store (`subscriptions.registry_writer`)
NO_REGISTRY = "new webhook secrets have no store registry to be kept in (PERSONALIZE_DATABASE_URL): not checked"


class HookHealthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERSONALIZE_", extra="ignore")

    webhook_health_interval: Duration = Field(
        default=timedelta(minutes=15),
        description="PERSONALIZE_WEBHOOK_HEALTH_INTERVAL: how often each store's webhooks are listed and repaired.",
    )
    webhook_healthy_poll_factor: float = Field(
        default=5.0,
        ge=1.0,
        le=100.0,
        description="PERSONALIZE_WEBHOOK_HEALTHY_POLL_FACTOR: a store whose webhooks are healthy is polled this "
        "many times slower than its poll_interval (1: never slower).",
    )


class Turns(Protocol):
    async def take(self, platform: str, store_id: str, hold: timedelta) -> bool: ...

    async def tell(self, platform: str, store_id: str, healthy: bool, keep: timedelta) -> None: ...

    async def told(self, platform: str, store_id: str) -> bool | None: ...


class RedisTurns:
    """Which copy checks a store this interval, and the verdict it found, in Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def take(self, platform: str, store_id: str, hold: timedelta) -> bool:
        key = f"{PREFIX}turn:{platform}:{store_id}"
        return bool(await self._redis.set(key, b"1", nx=True, px=max(1, int(hold.total_seconds() * 1000))))

    async def tell(self, platform: str, store_id: str, healthy: bool, keep: timedelta) -> None:
        key = f"{PREFIX}healthy:{platform}:{store_id}"
        await self._redis.set(key, b"1" if healthy else b"0", px=max(1, int(keep.total_seconds() * 1000)))

    async def told(self, platform: str, store_id: str) -> bool | None:
        value = await self._redis.get(f"{PREFIX}healthy:{platform}:{store_id}")
        return None if value is None else value == b"1"


class HookKeeper:
    def __init__(
        self,
        platform: str,
        ensure: Ensure,
        callback_base: str,
        turns: Turns,
        interval: timedelta = timedelta(minutes=15),
        healthy_poll_factor: float = 5.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.platform = platform
        self._ensure, self._base, self._turns = ensure, callback_base.rstrip("/"), turns
        self._interval, self._factor, self._rng = interval, healthy_poll_factor, rng
        self._healthy: dict[str, bool] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._saves = "save" in inspect.signature(ensure).parameters
        self.save_for: SaveFor | None = None

    @classmethod
    def for_platform(cls, platform: str, redis: Redis) -> HookKeeper | None:
        """The platform's schedule, or None: no subscriptions module, or no public address to register."""
        try:
            module = importlib.import_module(f"connectors.{platform}.subscriptions")
        except ModuleNotFoundError:
            return None
        try:
            app = app_for(platform)
        except SettingsError:  # no public address (WooCommerce needs no client id to be asked for one)
            app = None
        if app is None:
            log.warning("%s webhooks are not kept: PERSONALIZE_CONNECT_BASE_URL is not set", platform)
            return None
        settings = HookHealthSettings()
        return cls(
            platform,
            module.ensure,
            app.base_url,
            RedisTurns(redis),
            settings.webhook_health_interval,
            settings.webhook_healthy_poll_factor,
        )

    def callback_url(self, store: StoreConfig) -> str:
        return f"{self._base}/webhooks/{self.platform}/{store.store_id}"

    def healthy(self, store_id: str) -> bool:
        return self._healthy.get(store_id, False)

    def poll_interval(self, store: StoreConfig) -> timedelta:
        """Full rate until the webhooks are known healthy; then `healthy_poll_factor` times slower."""
        return store.poll_interval * self._factor if self.healthy(store.store_id) else store.poll_interval

    def watch(self, store: StoreConfig, api: PlatformClient, on_revoked: Revoked | None = None) -> None:
        """Check the store's webhooks now (within a tenth of an interval) and every interval after."""
        self.forget(store.store_id)
        self._tasks[store.store_id] = asyncio.create_task(self._keep(store, api, on_revoked))

    def forget(self, store_id: str) -> None:
        task = self._tasks.pop(store_id, None)
        if task is not None:
            task.cancel()
        self._healthy.pop(store_id, None)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for store_id in list(self._tasks):
            self.forget(store_id)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep(self, store: StoreConfig, api: PlatformClient, on_revoked: Revoked | None) -> None:
        await asyncio.sleep(self._interval.total_seconds() * 0.1 * self._rng())
        while True:
            try:
                if await self._turns.take(self.platform, store.store_id, self._interval * (1 - JITTER)):
                    await self.check(store, api)
                else:  # another copy checked it this interval: take its word
                    told = await self._turns.told(self.platform, store.store_id)
                    self._healthy[store.store_id] = bool(told)
            except GrantRevokedError as revoked:
                CHECKS.labels(self.platform, "revoked").inc()
                self._healthy.pop(store.store_id, None)
                log.warning("%s: %s", store.key, revoked)
                if on_revoked is not None and await self._disconnected(store, str(revoked), on_revoked):
                    return
            except Exception:  # the next interval tries again; meanwhile the poll runs at full rate
                CHECKS.labels(self.platform, "error").inc()
                self._healthy[store.store_id] = False
                log.exception("webhook check of %s failed; polling it at full rate", store.key)
            await asyncio.sleep(self._interval.total_seconds() * (1 + JITTER * (2 * self._rng() - 1)))

    async def _disconnected(self, store: StoreConfig, reason: str, on_revoked: Revoked) -> bool:
        try:
            await on_revoked(store.platform, store.store_id, reason)
            return True
        except Exception:  # the registry or the broker away: the next check sees the 401 again
            log.exception("disconnecting %s failed; retrying next interval", store.key)
            return False

    async def check(self, store: StoreConfig, api: PlatformClient) -> HookHealth:
        """One `ensure`, its verdict kept here and told to the other copies; GrantRevokedError passes through."""
        if not self._saves:
            health = await self._ensure(api, store, self.callback_url(store))
        elif self.save_for is not None:
            health = await self._ensure(api, store, self.callback_url(store), save=self.save_for(store))
        else:
            health = HookHealth((), problems=(NO_REGISTRY,))
        # Repaired is not yet healthy: until the next check finds them all delivering, the poll keeps its full
        # rate, and it is the poll that reads what the broken webhooks missed.
        healthy = health.healthy and not health.repaired
        self._healthy[store.store_id] = healthy
        await self._turns.tell(self.platform, store.store_id, healthy, self._interval * 2)
        if health.problems:
            CHECKS.labels(self.platform, "unhealthy").inc()
            log.warning("webhooks of %s are not right: %s", store.key, "; ".join(health.problems))
        elif health.created and not (health.found_active or health.revived):  # a new store: none of ours yet
            CHECKS.labels(self.platform, "registered").inc()
            log.info("webhooks of %s registered: %s", store.key, ", ".join(health.created))
        elif health.repaired:
            CHECKS.labels(self.platform, "repaired").inc()
            log.warning(
                "webhooks of %s were missing or disabled: created %s, recreated %s; the poll reads what they missed",
                store.key,
                ", ".join(health.created) or "none",
                ", ".join(health.revived) or "none",
            )
        else:
            CHECKS.labels(self.platform, "healthy").inc()
        return health
