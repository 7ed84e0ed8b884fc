"""The connector's HTTP face: `POST /webhooks/<platform>/<store_id>`, and nothing else (ops: `plumbing.ops`)."""

from __future__ import annotations

import logging
import time

from aiokafka.errors import KafkaError
from fastapi import FastAPI
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.types import ASGIApp

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.metrics import WEBHOOK_SECONDS, WEBHOOKS
from connectors.platform import FullOrder, NothingToDo, OrderRef, PlatformAdapter
from plumbing.config import StoreConfig
from plumbing.hot_routes import HotRoute, PlainText, body_within, in_front_of

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
PREFIX = "/webhooks/"
Answer = tuple[int, str, str]  # status, result (the metric's label), the plain-text body
# Redis or the broker away (refused, timed out): the platform retries on 503, and the poll finds the order anyway.
UNAVAILABLE = (RedisError, KafkaError, OSError, TimeoutError)
RETRY_AFTER_S = 30  # a claim a failed attempt could not release expires by then (connectors/seen.py CLAIM_MS)


def make_app(adapter: PlatformAdapter, stores: dict[str, StoreConfig], intake: Intake, fetcher: ThinFetcher) -> ASGIApp:
    """The webhook route, outside FastAPI (`plumbing.hot_routes`), in front of a FastAPI app that answers 404."""
    app = FastAPI(title=f"personalize connector: {adapter.name}", docs_url=None, redoc_url=None, openapi_url=None)
    seconds = WEBHOOK_SECONDS.labels(adapter.name)

    async def webhook(request: Request) -> PlainText:
        platform, store_id = request.path_params["platform"], request.path_params["store_id"]
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

    async def _handle(platform: str, store_id: str, request: Request) -> Answer:
        store = stores.get(store_id) if platform == adapter.name else None
        if store is None:
            return 404, "unknown_store", f"no {platform} store {store_id!r} here"
        headers = request.headers
        if int(headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return 413, "too_large", "body over 1 MiB"
        body = await body_within(request, MAX_BODY_BYTES)
        if body is None:
            return 413, "too_large", "body over 1 MiB"
        if adapter.is_ping(headers, body):
            return 200, "ping", "pong"
        try:
            adapter.verify_webhook(store, headers, body)
        except InvalidSignatureError as error:
            log.info("refused webhook for %s: %s", store.key, error)
            return 401, "bad_signature", "invalid signature"
        try:
            note = adapter.read_webhook(store, headers, body)
        except UnreadableWebhookError as error:
            await intake.dead_letter(store, body, f"unreadable {adapter.name} webhook: {error}", "webhook")
            return 202, "dead_lettered", "accepted into dead-letters"
        if isinstance(note, FullOrder):
            await intake.accept(store, [note.raw], source="webhook")
            return 200, "published", "ok"
        if isinstance(note, OrderRef):
            fetcher.enqueue(store, note.order_id)
            return 202, "queued", "accepted"
        assert isinstance(note, NothingToDo)
        return 200, "ignored", note.why

    route = HotRoute(PREFIX + "{platform}/{store_id}", webhook, methods=frozenset({"POST"}), refuse_other_methods=True)
    return in_front_of(app, route)
