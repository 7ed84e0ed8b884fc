"""Squarespace sandbox: Commerce API orders (list by modified range XOR cursor, one order), bearer key plus
required User-Agent, 429 with a cool-down, and thin `order.create`/`order.update` notifications signed
with `Squarespace-Signature` (hex HMAC-SHA256, key = the hex secret decoded).

Orders are the documented Order shape (`orders/squarespace.py`). Choices where the docs say nothing:
- a request without `User-Agent` is refused like a bad key (401): the docs say "rejected", not how;
- listings come newest first (the docs say "ordered by modification date", not which way; this is the
  harder way for a poller); the cursor is the window and an offset, so it is dynamic, as documented;
- over 300 calls a minute → 429 for a minute, without Retry-After (none is documented; nor are the
  error object's type and subtype for a 429, so ours are made up); a `rate_limit` fault answers 429
  with `Retry-After: <faults.retry_after>` so tests need not wait the minute;
- Squarespace creates an order only once checkout is paid: an unpaid order is refused (422) and
  "paid" changes nothing.

Connecting (OAuth, `squarespace_oauth.py`): the API takes the store's configured API key or an access token
its OAuth server issued and that is still young (an expired one answers 401); `GET /1.0/authorization/website`
says which website a token is for. Webhook subscriptions (`squarespace_hooks.py`) take OAuth tokens only; a
placed order notifies `order.create`, a status change `order.update`, to every subscriber of the topic (a
status change notifies whatever its `webhook` flag says). The older single-URL delivery of `sandboxes/base.py`
(`/_sandbox/webhooks`, signed with the store's `webhook_secret`) is still there for YAML-configured stores.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import OrderSpec, PlatformSandbox, SandboxState
from sandboxes.orders.squarespace import documented_order, line_item, usd
from sandboxes.squarespace_hooks import Subscriptions, subscription_routes
from sandboxes.squarespace_oauth import AUTH_PATH, TOKEN_PATH, SquarespaceOAuth, oauth_routes
from sandboxes.squarespace_paging import cursor_of, when, window

SAMPLES = Path(__file__).parent / "samples" / "squarespace"
ORDERS = "/1.0/commerce/orders"
WEBSITE = "/1.0/authorization/website"
__all__ = ["AUTH_PATH", "SANDBOX", "TOKEN_PATH", "SquarespaceSandbox"]
PAGE_SIZE = 50
CALLS_PER_MINUTE = 300
COOL_DOWN_S = 60.0


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, subtype: str, message: str, kind: str = "INVALID_REQUEST_ERROR") -> JSONResponse:
    """The documented error object (.../responses-error-handling)."""
    return JSONResponse(
        {
            "type": kind,
            "subtype": subtype,
            "message": message,
            "details": None,
            "contextId": secrets.token_hex(5).upper(),
        },
        status_code=status,
    )


class SquarespaceSandbox(PlatformSandbox):
    name = "squarespace"
    has_unpaid_orders = False  # see the module docstring

    public_paths = frozenset({AUTH_PATH, TOKEN_PATH})

    def __init__(self) -> None:
        self._calls: dict[int, deque[float]] = {}  # per SandboxState: recent call times
        self._cool_until: dict[int, float] = {}
        self._hooks: dict[int, Subscriptions] = {}  # per SandboxState: its website's webhook subscriptions

    def hooks(self, state: SandboxState) -> Subscriptions:
        return self._hooks.setdefault(id(state), Subscriptions(website_id(state)))

    def oauth(self, state: SandboxState) -> SquarespaceOAuth:
        if not isinstance(state.oauth, SquarespaceOAuth):
            creds = state.store.credentials
            state.oauth = SquarespaceOAuth(creds.get("client_id", "sandbox-app"), creds.get("client_secret", ""))
        return state.oauth

    def seed(self, state: SandboxState) -> list[dict[str, Any]]:
        documented = documented_order()
        # The order the webhook samples name, as the same store would show it once shipped.
        shipped = {
            **documented_order(),
            "id": "5f3c39ce69e11e796f19990e",
            "orderNumber": "4",
            "testmode": False,
            "createdOn": "2020-04-22T22:10:12.000Z",
            "modifiedOn": "2020-04-22T22:18:00.000Z",
            "fulfillmentStatus": "FULFILLED",
            "fulfilledOn": "2020-04-22T22:18:00.000Z",
        }
        shipped["lineItems"][0].update(id="5f3c39ce69e11e796f19990f", customizations=None)
        return [documented, shipped]

    def new_order(self, state: SandboxState, spec: OrderSpec) -> dict[str, Any]:
        if not spec.paid:
            raise HTTPException(422, "a Squarespace order exists only once checkout is paid")
        now, raw = _iso(state.tick()), documented_order()
        first, _, last = spec.customer_name.partition(" ")
        lines = [line_item(item) for item in spec.items]
        subtotal = usd(str(sum(Decimal(item.price) * item.quantity for item in spec.items)))
        raw.update(
            id=secrets.token_hex(12),
            orderNumber=str(state.next_id()),
            createdOn=now,
            modifiedOn=now,
            channel="web",
            testmode=spec.test,
            customerEmail=spec.customer_email,
            lineItems=lines,
            internalNotes=[],
            shippingLines=[],
            discountLines=[],
            formSubmission=None,
            subtotal=subtotal,
            shippingTotal=usd("0.00"),
            discountTotal=usd("0.00"),
            taxTotal=usd("0.00"),
            grandTotal=dict(subtotal),
            channelName="Squarespace",
            externalOrderReference=None,
            priceTaxInterpretation="EXCLUSIVE",
        )
        for key in ("billingAddress", "shippingAddress"):
            raw[key] = {**raw[key], "firstName": first, "lastName": last}
        if spec.webhook:
            self.hooks(state).announce("order.create", {"orderId": raw["id"]})
        return raw

    def set_status(self, state: SandboxState, raw: dict[str, Any], status: str) -> None:
        if status == "paid":
            return  # already paid: it could not exist otherwise
        if status == "cancelled":
            raw["fulfillmentStatus"] = "CANCELED"
        else:
            raw["refundedTotal"] = dict(raw["grandTotal"])
        raw["modifiedOn"] = _iso(state.tick())
        self.hooks(state).announce("order.update", {"orderId": raw["id"], "update": _update(raw)})

    def authorized(self, state: SandboxState, request: Request) -> bool:
        return self.refusal(state, request) is None

    def refusal(self, state: SandboxState, request: Request) -> Response | None:
        """The store's API key, or an OAuth access token of this website that has not expired; a User-Agent."""
        if not request.headers.get("user-agent"):
            return _error(401, "UNAUTHORIZED", "a User-Agent header is required", kind="AUTHORIZATION_ERROR")
        given = request.headers.get("authorization", "")
        api_key = state.store.credentials.get("api_key", "")
        if api_key and hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
            return None
        issued = self.oauth(state).access(given.removeprefix("Bearer ")) if given.startswith("Bearer ") else "unknown"
        if issued == "valid":
            return None
        problem = "the access token has expired" if issued == "expired" else "invalid API key or access token"
        return _error(401, "UNAUTHORIZED", problem, kind="AUTHORIZATION_ERROR")

    def is_oauth(self, state: SandboxState, request: Request) -> bool:
        given = request.headers.get("authorization", "")
        return given.startswith("Bearer ") and self.oauth(state).access(given.removeprefix("Bearer ")) == "valid"

    def controls(self, state: SandboxState) -> APIRouter:
        """OAuth (`/_sandbox/oauth`), the subscriptions API and its controls (`/_sandbox/subscriptions`,
        `/_sandbox/uninstall`)."""
        oauth, hooks = self.oauth(state), self.hooks(state)

        def uninstall() -> str:
            oauth.revoke()
            return oauth.client_id

        router = APIRouter()
        router.include_router(oauth_routes(oauth))
        router.include_router(subscription_routes(hooks, lambda r: self.is_oauth(state, r), _error, uninstall))
        return router

    def _throttle(self, state: SandboxState) -> Response | None:
        now = time.monotonic()
        if now < self._cool_until.get(id(state), 0.0):
            return _error(429, "RATE_LIMITED", "Too Many Requests", kind="TOO_MANY_REQUESTS")
        calls = self._calls.setdefault(id(state), deque())
        calls.append(now)
        while calls[0] <= now - 60:
            calls.popleft()
        if len(calls) > CALLS_PER_MINUTE:
            self._cool_until[id(state)] = now + COOL_DOWN_S
            return _error(429, "RATE_LIMITED", "Too Many Requests", kind="TOO_MANY_REQUESTS")
        return None

    def api(self, state: SandboxState) -> APIRouter:
        router = APIRouter()

        @router.get(WEBSITE)
        async def website() -> Response:
            """Which website the token is for (how a connector learns the site it was given)."""
            site = state.store.store_id
            return JSONResponse(
                {
                    "id": website_id(state),
                    "identifier": site,
                    "title": state.store.credentials.get("site_title", f"Sandbox site {site}"),
                    "url": f"https://{site}.squarespace.com",
                    "language": "en-US",
                    "timeZone": "America/New_York",
                }
            )

        @router.get(ORDERS)
        async def list_orders(request: Request) -> Response:
            if limited := self._throttle(state):
                return limited
            try:
                after, before, status, offset = window(request.query_params)
            except (ValueError, TypeError, KeyError) as error:
                return _error(400, "INVALID_ARGUMENT", str(error))
            orders = [
                o
                for o in state.orders.values()
                if (after is None or before is None or after < when(o["modifiedOn"]) < before)
                and (status is None or o["fulfillmentStatus"] == status)
            ]
            orders.sort(key=lambda o: (when(o["modifiedOn"]), o["id"]), reverse=True)
            more = offset + PAGE_SIZE < len(orders)
            cursor = cursor_of(after, before, status, offset + PAGE_SIZE) if more else None
            url = f"{str(request.base_url).rstrip('/')}{ORDERS}?cursor={cursor}" if cursor else None
            return JSONResponse(
                {
                    "result": orders[offset : offset + PAGE_SIZE],
                    "pagination": {"hasNextPage": more, "nextPageCursor": cursor, "nextPageUrl": url},
                }
            )

        @router.get(ORDERS + "/{order_id}")
        async def get_order(order_id: str) -> Response:
            if limited := self._throttle(state):
                return limited
            raw = state.orders.get(order_id)
            return JSONResponse(raw) if raw else _error(404, "INVALID_ARGUMENT", f"order {order_id} not found")

        return router

    def webhook(self, state: SandboxState, raw: dict[str, Any], event: str, thin: bool) -> tuple[dict[str, str], bytes]:
        # Always thin, whatever `thin` says: Squarespace has no other kind. Shaped as the samples.
        created = event == "created"
        sample = json.loads((SAMPLES / f"webhook_order_{'create' if created else 'update'}.json").read_text())
        sample["data"] = {"orderId": raw["id"]} if created else {"orderId": raw["id"], "update": _update(raw)}
        body = {**sample, "id": secrets.token_hex(12), "createdOn": datetime.now(UTC).isoformat(timespec="minutes")}
        return self.sign_raw(state, json.dumps(body).encode(), event)

    def sign_raw(self, state: SandboxState, body: bytes, event: str) -> tuple[dict[str, str], bytes]:
        # The headers .../webhooks/overview lists.
        return {
            "User-Agent": "Squarespace/1.0",
            "Content-Type": "application/json",
            "Squarespace-Signature": _signature(state.store.webhook_secret or "", body),
        }, body


def website_id(state: SandboxState) -> str:
    """The site's id: the store's `website_id` credential, else 24 hex digits made from its store id."""
    given = state.store.credentials.get("website_id")
    return given or hashlib.sha256(state.store.store_id.encode()).hexdigest()[:24]


def _signature(secret_hex: str, body: bytes) -> str:
    """.../webhooks/verifying-notifications: HMAC-SHA256 of the raw body keyed with the hex secret decoded;
    written in hex, as the page's Node example does."""
    return hmac.new(bytes.fromhex(secret_hex), body, hashlib.sha256).hexdigest()


def _update(raw: dict[str, Any]) -> str:
    """`data.update` of an order.update notification (documented values)."""
    if raw["fulfillmentStatus"] == "CANCELED":
        return "CANCELED"
    if Decimal(raw["refundedTotal"]["value"]) > 0:
        return "REFUNDED"
    return "FULFILLED" if raw["fulfillmentStatus"] == "FULFILLED" else "MARKED_PENDING"


SANDBOX = SquarespaceSandbox()
