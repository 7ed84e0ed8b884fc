"""The connector's HTTP face: `POST /webhooks/<platform>/<store_id>`, `/health`, `/metrics`."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.metrics import WEBHOOK_SECONDS, WEBHOOKS
from connectors.platform import FullOrder, NothingToDo, OrderRef, PlatformAdapter
from personalize.config import StoreConfig

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


def make_app(adapter: PlatformAdapter, stores: dict[str, StoreConfig], intake: Intake, fetcher: ThinFetcher,
             healthy: Callable[[], Awaitable[dict[str, bool]]]) -> FastAPI:
    app = FastAPI(title=f"personalize connector: {adapter.name}", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/webhooks/{platform}/{store_id}")
    async def webhook(platform: str, store_id: str, request: Request) -> Response:
        started = time.perf_counter()
        response = await _handle(platform, store_id, request)
        WEBHOOK_SECONDS.labels(adapter.name).observe(time.perf_counter() - started)
        return response

    async def _handle(platform: str, store_id: str, request: Request) -> Response:
        store = stores.get(store_id) if platform == adapter.name else None
        if store is None:
            return _answer(404, "unknown_store", f"no {platform} store {store_id!r} here")
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return _answer(413, "too_large", "body over 1 MiB")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _answer(413, "too_large", "body over 1 MiB")
        if adapter.is_ping(request.headers, body):
            return _answer(200, "ping", "pong")
        try:
            adapter.verify_webhook(store, request.headers, body)
        except InvalidSignatureError as error:
            log.info("refused webhook for %s: %s", store.key, error)
            return _answer(401, "bad_signature", "invalid signature")
        try:
            note = adapter.read_webhook(store, request.headers, body)
        except UnreadableWebhookError as error:
            await intake.dead_letter(store, body, f"unreadable {adapter.name} webhook: {error}", "webhook")
            return _answer(202, "dead_lettered", "accepted into dead-letters")
        if isinstance(note, FullOrder):
            await intake.accept(store, [note.raw], source="webhook")
            return _answer(200, "published", "ok")
        if isinstance(note, OrderRef):
            fetcher.enqueue(store, note.order_id)
            return _answer(202, "queued", "accepted")
        assert isinstance(note, NothingToDo)
        return _answer(200, "ignored", note.why)

    def _answer(status: int, result: str, message: str) -> Response:
        WEBHOOKS.labels(adapter.name, result).inc()
        return Response(content=message, status_code=status, media_type="text/plain")

    @app.get("/health")
    async def health() -> Response:
        checks = await healthy()
        status = 200 if all(checks.values()) else 503
        body = ", ".join(f"{name}: {'ok' if ok else 'down'}" for name, ok in checks.items())
        return Response(content=body, status_code=status, media_type="text/plain")

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(content=generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
