"""The connector's HTTP face: `POST /webhooks/<platform>/<store_id>`, the connect flow under `/connect/<platform>/`
(`connectors.connect`), and nothing else (ops: `plumbing.ops`).

Where the platform's webhooks are per app (Wix, Etsy: one callback URL for every site or shop), also
`POST /webhooks/<platform>`: the delivery names its store (Wix `instanceId`, Etsy `shop_id`), that
name picks the store, and the store's secret then verifies the delivery, which must be the store's own
(the platform's `verify`/`read` check the binding, on either URL). Every accepted delivery is answered
200: Wix retries anything else (its resend policy says "non-200"), and no platform wants less.

A verified delivery that says the app was uninstalled (`Uninstalled`) is handed to `disconnect`, which
disconnects the store (`StoreLifecycle.disconnect`: credentials deleted, `StoreDisconnected` published);
without a store registry there is nothing to disconnect, and it is only logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import psycopg
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.types import ASGIApp

from connectors.errors import InvalidSignatureError, RefusedOrderIdError, UnreadableWebhookError
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.metrics import WEBHOOK_SECONDS, WEBHOOKS
from connectors.platform import FullOrder, NothingToDo, OrderRef, PlatformAdapter, Uninstalled
from plumbing.body_limit import BodyLimit
from plumbing.config import StoreConfig
from plumbing.hot_routes import HotRoute, PlainText, body_within, in_front_of
from plumbing.settings import SettingsError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
PREFIX = "/webhooks/"
Answer = tuple[int, str, str]  # status, result (the metric's label), the plain-text body
# Redis or the broker away (refused, timed out): the platform retries on 503, and the poll finds the order anyway.
# psycopg's OperationalError: the registry (an uninstall's disconnect, a catch-up's read) out of reach,
# PoolTimeout among them; the platform retries a 503 as it would not a 500.
UNAVAILABLE = (RedisError, KafkaError, OSError, TimeoutError, psycopg.OperationalError)
RETRY_AFTER_S = 30  # a claim a failed attempt could not release expires by then (connectors/seen.py CLAIM_MS)
# platform, store id, reason → the store disconnected: `StoreLifecycle.disconnect`
Disconnect = Callable[[str, str, str], Awaitable[object]]
# A store id (None: any store connected lately) → that store started here if the registry has it connected.
CatchUp = Callable[[str | None], Awaitable[None]]
# One registry read per unknown name in this time: a flood of made-up ids costs one read each, not one per request.
CATCH_UP_EVERY_S = 2.0
MAX_REMEMBERED_MISSES = 10_000


class StoreRoutes:
    """The stores this connector takes webhooks for, by store id and by the platform's own id of them.

    Changed while the connector runs (a store connected or disconnected, `connectors.stores.roster`); a
    delivery reads it once, so a store removed mid-request finishes that request and gets no other.

    A store connected through another copy has its first webhooks arrive (WooCommerce's ping among them)
    before this copy has read its `StoreConnected`; `find` then asks `catch_up` (the registry) once before
    answering that the store is unknown, so those are not refused with 404 (WooCommerce would not save the
    webhook, and counts each refusal towards disabling it).
    """

    def __init__(self, adapter: PlatformAdapter, stores: dict[str, StoreConfig] | None = None) -> None:
        self._adapter = adapter
        self._stores = dict(stores or {})
        self._by_routing_id = routing_index(adapter, self._stores)
        self.catch_up: CatchUp | None = None  # set where there is a registry (`RegistryFollower.catch_up`)
        self._asked: dict[str, float] = {}  # name → when the registry was last asked for it
        self._asking: dict[str, asyncio.Task[None]] = {}

    def get(self, store_id: str) -> StoreConfig | None:
        return self._stores.get(store_id)

    def by_routing_id(self, routing_id: str) -> StoreConfig | None:
        return self._by_routing_id.get(routing_id)

    async def find(self, store_id: str) -> StoreConfig | None:
        """The store routed here, or started from the registry now if it was connected elsewhere."""
        if (store := self.get(store_id)) is None:
            await self._caught_up(store_id, store_id)
            store = self.get(store_id)
        return store

    async def find_by_routing_id(self, routing_id: str) -> StoreConfig | None:
        """As `find`, by the platform's id: the registry is asked for the stores connected lately."""
        if (store := self.by_routing_id(routing_id)) is None:
            await self._caught_up(f"routing:{routing_id}", None)
            store = self.by_routing_id(routing_id)
        return store

    async def _caught_up(self, name: str, store_id: str | None) -> None:
        if self.catch_up is None:
            return
        if (asking := self._asking.get(name)) is not None:  # the same store's deliveries at once: one read
            await asyncio.shield(asking)
            return
        now = time.monotonic()
        if now - self._asked.get(name, -CATCH_UP_EVERY_S) < CATCH_UP_EVERY_S:
            return
        if len(self._asked) >= MAX_REMEMBERED_MISSES:
            self._asked.clear()
        self._asked[name] = now
        task = asyncio.ensure_future(self.catch_up(store_id))
        self._asking[name] = task
        try:
            await asyncio.shield(task)
        finally:
            self._asking.pop(name, None)

    def __len__(self) -> int:
        return len(self._stores)

    def add(self, store: StoreConfig) -> None:
        """Route `store` (replacing its earlier self); refused when another store has its platform id."""
        routing_id = self._adapter.store_routing_id(store)
        other = self._by_routing_id.get(routing_id or "")
        if routing_id and other is not None and other.store_id != store.store_id:
            raise SettingsError(f"stores {other.key} and {store.key} are the same {self._adapter.name} store")
        self.remove(store.store_id)
        self._stores[store.store_id] = store
        if routing_id:
            self._by_routing_id[routing_id] = store

    def remove(self, store_id: str) -> StoreConfig | None:
        store = self._stores.pop(store_id, None)
        if store is not None:
            routing_id = self._adapter.store_routing_id(store)
            if routing_id and self._by_routing_id.get(routing_id) is store:
                del self._by_routing_id[routing_id]
        return store


def make_app(
    adapter: PlatformAdapter,
    stores: dict[str, StoreConfig] | StoreRoutes,
    intake: Intake,
    fetcher: ThinFetcher,
    connect: APIRouter | None = None,
    disconnect: Disconnect | None = None,
) -> ASGIApp:
    """The webhook route, outside FastAPI (`plumbing.hot_routes`), in front of a FastAPI app that serves the
    platform's connect flow (`connectors.connect`) where there is one, and answers 404 to the rest."""
    app = FastAPI(title=f"personalize connector: {adapter.name}", docs_url=None, redoc_url=None, openapi_url=None)
    if connect is not None:
        app.include_router(connect)
    seconds = WEBHOOK_SECONDS.labels(adapter.name)
    table = stores if isinstance(stores, StoreRoutes) else StoreRoutes(adapter, stores)

    async def webhook(request: Request) -> PlainText:
        platform, store_id = request.path_params["platform"], request.path_params.get("store_id")
        started = time.perf_counter()
        retry_after: list[tuple[bytes, bytes]] = []
        try:
            status, result, message = await _handle(platform, store_id, request)
        except UNAVAILABLE as error:  # nothing was recorded as seen: the retry (or the poll) publishes it
            log.warning("webhook for %s %s answered 503: %s: %s", platform, store_id, type(error).__name__, error)
            status, result, message = 503, "unavailable", "temporarily unavailable, retry later"
            retry_after = [(b"retry-after", str(RETRY_AFTER_S).encode())]
        WEBHOOKS.labels(adapter.name, result).inc()
        seconds.observe(time.perf_counter() - started)
        return PlainText(status, message, retry_after)

    async def _handle(platform: str, store_id: str | None, request: Request) -> Answer:
        store = None
        if platform != adapter.name:
            return 404, "unknown_store", f"no {platform} webhooks here"
        if store_id is not None:
            store = await table.find(store_id)
            if store is None:
                return 404, "unknown_store", f"no {platform} store {store_id!r} here"
        elif not adapter.routes_per_app:
            return 404, "unknown_store", f"{platform} webhooks go to /webhooks/{platform}/<store_id>"
        headers = request.headers
        if int(headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return 413, "too_large", "body over 1 MiB"
        body = await body_within(request, MAX_BODY_BYTES)
        if body is None:
            return 413, "too_large", "body over 1 MiB"
        if adapter.is_ping(headers, body):
            return 200, "ping", "pong"
        if store is None:
            routing_id = adapter.routing_id(headers, body)
            store = await table.find_by_routing_id(routing_id) if routing_id else None
            if store is None:
                return 404, "unknown_store", f"the delivery names no {platform} store here"
        try:
            adapter.verify_webhook(store, headers, body)
        except InvalidSignatureError as error:
            log.info("refused webhook for %s: %s", store.key, error)
            return 401, "bad_signature", "invalid signature"
        try:
            note = adapter.read_webhook(store, headers, body)
        except UnreadableWebhookError as error:
            await intake.dead_letter(store, body, f"unreadable {adapter.name} webhook: {error}", "webhook")
            if isinstance(error, RefusedOrderIdError):  # never put in a fetch path; kept in dead-letters
                return 400, "refused_id", "order id refused"
            return 200, "dead_lettered", "accepted into dead-letters"
        if isinstance(note, FullOrder):
            await intake.accept(store, [note.raw], source="webhook")
            return 200, "published", "ok"
        if isinstance(note, OrderRef):
            fetcher.enqueue(store, note.order_id)
            return 200, "queued", "accepted"
        if isinstance(note, Uninstalled):
            if disconnect is None:
                log.warning("%s says the app was uninstalled; no store registry to disconnect it from", store.key)
                return 200, "ignored", "uninstall noted"
            await disconnect(store.platform, store.store_id, note.reason)
            table.remove(store.store_id)  # now, not when the event comes back: a duplicate is not a second one
            return 200, "uninstalled", "store disconnected"
        assert isinstance(note, NothingToDo)
        return 200, "ignored", note.why

    post = frozenset({"POST"})
    # With and without a trailing slash: a store's delivery URL may end in one (WooCommerce pings it on save).
    paths = ("{platform}/{store_id}", "{platform}/{store_id}/", "{platform}", "{platform}/")
    routes = (HotRoute(PREFIX + path, webhook, methods=post, refuse_other_methods=True) for path in paths)
    return BodyLimit(in_front_of(app, *routes), limit=MAX_BODY_BYTES)


def routing_index(adapter: PlatformAdapter, stores: dict[str, StoreConfig]) -> dict[str, StoreConfig]:
    """Stores by the platform's own id of them (per-app webhooks name it); two stores with one id cannot both be."""
    index: dict[str, StoreConfig] = {}
    for store in stores.values():
        routing_id = adapter.store_routing_id(store)
        if not routing_id:
            continue
        if routing_id in index:
            raise SettingsError(f"stores {index[routing_id].key} and {store.key} are the same {adapter.name} store")
        index[routing_id] = store
    return index
