"""A fake store: the subset of a platform's API the connector uses, plus controls for tests and `dev`.

Each platform module (`sandboxes/<platform>.py`) says how its orders look,
how its API is asked and paged, how it checks auth and how it signs
webhooks. Everything else is here, once:

- orders kept as the platform's own JSON, in memory;
- `POST /_sandbox/orders` places an order from a small spec, `POST
  /_sandbox/orders/{id}/status` pays, cancels or refunds one; each sends the
  platform's webhook to the configured URL unless webhooks are off;
- `POST /_sandbox/webhooks` sets the target and the delivery style (full or
  thin where the platform has both, duplicates, dropped deliveries);
- `POST /_sandbox/orders/{id}/webhook` (re)delivers one now, optionally
  tampered, so tests can send out-of-order and repeated deliveries;
- `POST /_sandbox/faults` makes the next N API calls answer 429 or 500;
- products created through the platform's own create call (`sandboxes/catalog/<platform>.py`) are kept
  as the platform's JSON; `GET /_sandbox/products` lists them.

Where a platform's order JSON takes long to build, it is built in `sandboxes/orders/<platform>.py`.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from plumbing.config import StoreConfig
from sandboxes.oauth import OAuthServer

log = logging.getLogger(__name__)


class ItemSpec(BaseModel):
    product_id: str = "93"
    variant_id: str | None = None
    sku: str | None = None
    title: str = "Name mug"
    quantity: int = Field(default=1, ge=1)
    price: str = "14.50"
    buyer_text: str | None = None


class OrderSpec(BaseModel):
    items: list[ItemSpec] = Field(default_factory=lambda: [ItemSpec()], min_length=1)
    test: bool = False
    paid: bool = True
    customer_name: str = "Ada Lovelace"
    customer_email: str = "ada@example.com"
    webhook: bool = True


class StatusSpec(BaseModel):
    status: Literal["paid", "cancelled", "refunded"]
    webhook: bool = True


class WebhookSettings(BaseModel):
    url: str | None = None
    enabled: bool = True
    thin: bool = False  # platforms with both styles: deliver the id only
    duplicates: int = Field(default=0, ge=0, description="extra copies of each delivery")
    drop: int = Field(default=0, ge=0, description="the next N deliveries are lost (only a poll finds them)")


class DeliverSpec(BaseModel):
    event: Literal["created", "updated"] = "updated"
    times: int = Field(default=1, ge=1, le=20)
    thin: bool | None = None
    tamper: bool = False


class Faults(BaseModel):
    rate_limit: int = Field(default=0, ge=0)
    server_error: int = Field(default=0, ge=0)
    retry_after: float = 0.2


@dataclass
class SandboxState:
    store: StoreConfig
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    faults: Faults = field(default_factory=Faults)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    seeded: list[str] = field(default_factory=list)
    api_calls: int = 0
    oauth: OAuthServer | None = None  # the platform's authorization server, where it has one (sandboxes/oauth.py)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(5001))
    _last_tick: datetime = field(default_factory=lambda: datetime(2000, 1, 1, tzinfo=UTC))

    def next_id(self) -> int:
        return next(self._ids)

    def tick(self) -> datetime:
        """Now, strictly after the previous tick at the platform's resolution (one second)."""
        now = datetime.now(UTC).replace(microsecond=0)
        self._last_tick = max(now, self._last_tick + timedelta(seconds=1))
        return self._last_tick


class PlatformSandbox:
    """What one platform's sandbox says; subclasses fill these in."""

    name: str
    has_thin_and_full = False
    has_test_flag = True  # the platform marks test orders in a way the connector reads
    has_unpaid_orders = True  # False where an order exists only once paid (Squarespace)

    def seed(self, state: SandboxState) -> list[dict[str, Any]]:
        """Orders the store starts with, shaped like the platform's documented examples."""
        return []

    def order_id(self, raw: dict[str, Any]) -> str:
        return str(raw["id"])

    def new_order(self, state: SandboxState, spec: OrderSpec) -> dict[str, Any]:
        raise NotImplementedError

    def set_status(self, state: SandboxState, raw: dict[str, Any], status: str) -> None:
        raise NotImplementedError

    # Paths a browser or an app reaches before it holds a token (a consent page, a token endpoint).
    public_paths: frozenset[str] = frozenset()

    def authorized(self, state: SandboxState, request: Request) -> bool:
        raise NotImplementedError

    def refusal(self, state: SandboxState, request: Request) -> Response | None:
        """None when the call may go on; otherwise the platform's answer to a call it does not accept."""
        if self.authorized(state, request):
            return None
        return JSONResponse({"message": "unauthorized"}, status_code=401)

    def controls(self, state: SandboxState) -> APIRouter | None:
        """The platform's own `/_sandbox/*` routes, if it has any (its OAuth server's settings)."""
        return None

    def rate_limit_response(self, faults: Faults) -> Response:
        return JSONResponse(
            {"message": "Too Many Requests"}, status_code=429, headers={"Retry-After": str(faults.retry_after)}
        )

    def api(self, state: SandboxState) -> APIRouter:
        raise NotImplementedError

    def webhook(self, state: SandboxState, raw: dict[str, Any], event: str, thin: bool) -> tuple[dict[str, str], bytes]:
        """Headers and body of the platform's webhook for this order and event, signed."""
        raise NotImplementedError

    def unsigned_webhook(self, state: SandboxState, raw: dict[str, Any], event: str) -> tuple[dict[str, str], bytes]:
        """The platform's webhook as a forger without the secret would send it."""
        headers, body = self.webhook(state, raw, event, thin=False)
        return {k: v for k, v in headers.items() if "signature" not in k.lower() and k.lower() != "webhook-id"}, body

    def sign_raw(self, state: SandboxState, body: bytes, event: str) -> tuple[dict[str, str], bytes]:
        """Any body, wrapped and signed the platform's way (tests use it to send verified nonsense)."""
        raise NotImplementedError

    async def announce_registered(self, state: SandboxState, raw: dict[str, Any], event: str) -> None:
        """Deliver to the webhooks registered through the platform's own API (WooCommerce); none by default."""


def make_sandbox_app(platform: PlatformSandbox, store: StoreConfig, webhook_url: str | None = None) -> FastAPI:
    state = SandboxState(store=store, webhooks=WebhookSettings(url=webhook_url))
    for raw in platform.seed(state):
        state.orders[platform.order_id(raw)] = raw
        state.seeded.append(platform.order_id(raw))
    app = FastAPI(title=f"{platform.name} sandbox", docs_url=None, redoc_url=None)
    app.state.sandbox = state
    client = httpx.AsyncClient(timeout=5.0)
    announcing: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to its tasks

    def in_background(announcement: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(announcement)
        announcing.add(task)
        task.add_done_callback(announcing.discard)

    @app.middleware("http")
    async def platform_rules(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path.startswith("/_sandbox") or request.url.path in platform.public_paths:
            return await call_next(request)
        state.api_calls += 1
        refused = platform.refusal(state, request)
        if refused is not None:
            return refused
        if state.faults.rate_limit > 0:
            state.faults.rate_limit -= 1
            return platform.rate_limit_response(state.faults)
        if state.faults.server_error > 0:
            state.faults.server_error -= 1
            return JSONResponse({"message": "internal error"}, status_code=500)
        return await call_next(request)

    app.include_router(platform.api(state))
    controls = platform.controls(state)
    if controls is not None:
        app.include_router(controls)
    app.include_router(importlib.import_module(f"sandboxes.catalog.{platform.name}").router(state))

    async def deliver(
        raw: dict[str, Any], event: str, thin: bool | None = None, times: int = 1, tamper: bool = False
    ) -> list[int | str]:
        settings = state.webhooks
        if not settings.url:
            return []
        headers, body = platform.webhook(state, raw, event, settings.thin if thin is None else thin)
        if tamper:  # one character changed in the middle: whatever the signature covers, it no longer matches
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]
        statuses: list[int | str] = []
        for _ in range(times):
            try:
                response = await client.post(settings.url, content=body, headers=headers)
                statuses.append(response.status_code)
            except httpx.HTTPError as error:
                statuses.append(type(error).__name__)
        state.deliveries.append({"order_id": platform.order_id(raw), "event": event, "statuses": statuses})
        return statuses

    async def announce(raw: dict[str, Any], event: str) -> None:
        settings = state.webhooks
        if not settings.enabled:
            return
        await platform.announce_registered(state, raw, event)
        if not settings.url:
            return
        if settings.drop > 0:
            settings.drop -= 1
            state.deliveries.append({"order_id": platform.order_id(raw), "event": event, "statuses": ["dropped"]})
            return
        await deliver(raw, event, times=1 + settings.duplicates)

    @app.post("/_sandbox/orders")
    async def place(spec: OrderSpec) -> dict[str, Any]:
        raw = platform.new_order(state, spec)
        order_id = platform.order_id(raw)
        state.orders[order_id] = raw
        if spec.webhook:
            in_background(announce(raw, "created"))
        return {"id": order_id, "order": raw}

    @app.get("/_sandbox/orders")
    async def listing() -> dict[str, Any]:
        return {"ids": list(state.orders), "deliveries": state.deliveries, "api_calls": state.api_calls}

    @app.get("/_sandbox/products")
    async def products() -> dict[str, Any]:
        return {"products": list(state.products.values())}

    @app.post("/_sandbox/orders/{order_id}/status")
    async def change(order_id: str, spec: StatusSpec) -> Response:
        raw = state.orders.get(order_id)
        if raw is None:
            return JSONResponse({"message": "no such order"}, status_code=404)
        platform.set_status(state, raw, spec.status)
        if spec.webhook:
            in_background(announce(raw, "updated"))
        return JSONResponse({"id": order_id, "order": raw})

    @app.post("/_sandbox/orders/{order_id}/webhook")
    async def redeliver(order_id: str, spec: DeliverSpec) -> Response:
        raw = state.orders.get(order_id)
        if raw is None:
            return JSONResponse({"message": "no such order"}, status_code=404)
        statuses = await deliver(raw, spec.event, thin=spec.thin, times=spec.times, tamper=spec.tamper)
        return JSONResponse({"statuses": statuses})

    @app.post("/_sandbox/webhooks")
    async def configure(settings: WebhookSettings) -> dict[str, Any]:
        state.webhooks = settings
        return settings.model_dump()

    @app.post("/_sandbox/faults")
    async def faults(spec: Faults) -> dict[str, Any]:
        state.faults = spec
        return spec.model_dump()

    return app
