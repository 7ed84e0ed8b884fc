"""The connector's HTTP face: `POST /webhooks/<platform>/<store_id>`, and the ops routes (`/health/*`, `/metrics`)."""

from __future__ import annotations

import logging
import time

from aiokafka.errors import KafkaError
from fastapi import FastAPI
from redis.exceptions import RedisError
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.errors import InvalidSignatureError, UnreadableWebhookError
from connectors.fetcher import ThinFetcher
from connectors.intake import Intake
from connectors.metrics import WEBHOOK_SECONDS, WEBHOOKS
from connectors.platform import FullOrder, NothingToDo, OrderRef, PlatformAdapter
from plumbing.config import StoreConfig
from plumbing.ops import Health, add_ops_routes

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
PREFIX = "/webhooks/"
Answer = tuple[int, str, str]  # status, result (the metric's label), the plain-text body
# Redis or the broker away (refused, timed out): the platform retries on 503, and the poll finds the order anyway.
UNAVAILABLE = (RedisError, KafkaError, OSError, TimeoutError)
RETRY_AFTER_S = 30  # a claim a failed attempt could not release expires by then (connectors/seen.py CLAIM_MS)


def make_app(
    adapter: PlatformAdapter, stores: dict[str, StoreConfig], intake: Intake, fetcher: ThinFetcher, health: Health
) -> ASGIApp:
    """The webhook route as plain ASGI in front of a FastAPI app holding the ops routes.

    Why not a FastAPI route: its dependency solving, request object and middleware layers took ~15 % of the
    connector's CPU per webhook (py-spy, `python -m benchmarks.connector_throughput --profile`).
    """
    app = FastAPI(title=f"personalize connector: {adapter.name}", docs_url=None, redoc_url=None, openapi_url=None)
    add_ops_routes(app, health)
    seconds = WEBHOOK_SECONDS.labels(adapter.name)

    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        platform, _, store_id = path.removeprefix(PREFIX).partition("/")
        if scope["type"] != "http" or not path.startswith(PREFIX) or not store_id or "/" in store_id:
            await app(scope, receive, send)  # the ops routes, and FastAPI's own 404
            return
        if scope["method"] != "POST":
            await _send(send, 405, "method not allowed", [(b"allow", b"POST")])
            return
        started = time.perf_counter()
        retry_after: list[tuple[bytes, bytes]] = []
        try:
            status, result, message = await _handle(platform, store_id, Headers(scope=scope), receive)
        except ClientDisconnect:  # the platform hung up before sending the whole body: nobody to answer
            return
        except UNAVAILABLE as error:  # nothing was recorded as seen: the retry (or the poll) publishes it
            log.warning("webhook for %s %s answered 503: %s: %s", platform, store_id, type(error).__name__, error)
            status, result, message = 503, "unavailable", "temporarily unavailable, retry later"
            retry_after = [(b"retry-after", str(RETRY_AFTER_S).encode())]
        WEBHOOKS.labels(adapter.name, result).inc()
        seconds.observe(time.perf_counter() - started)
        await _send(send, status, message, retry_after)

    async def _handle(platform: str, store_id: str, headers: Headers, receive: Receive) -> Answer:
        store = stores.get(store_id) if platform == adapter.name else None
        if store is None:
            return 404, "unknown_store", f"no {platform} store {store_id!r} here"
        if int(headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return 413, "too_large", "body over 1 MiB"
        body = await _body(receive, MAX_BODY_BYTES)
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

    return front


async def _body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit`."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
