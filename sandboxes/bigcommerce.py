"""BigCommerce sandbox: a store with one single-click app installed on it, as the platform runs both.

- REST v2 orders (list with min_date_modified/sort/page/limit, 204 when empty; one order; its products and
  shipping addresses), served under `API_PATH` (`/stores/{hash}`, as api.bigcommerce.com does) and, for the
  YAML stores whose base_url is the sandbox itself, at the root too.
- `X-Auth-Token`: the YAML store's token (a store-level API account) or one the app's token endpoint issued
  and no uninstall killed; 429 with the X-Rate-Limit-* headers.
- The app (`bigcommerce_app.py`, its routes `bigcommerce_controls.py`): install page, auth code, token endpoint, load and uninstall callbacks with
  `signed_payload_jwt`; `POST /_sandbox/oauth` sets it (defaults from the YAML store: `client_id`,
  `webhook_secret` as the client secret, `store_hash`).
- Webhooks: registered by API (`bigcommerce_hooks.py`, `/v3/hooks`) and delivered to each active hook,
  deactivated after failures; and, as before, thin `store/order/*` deliveries to the sandbox's configured
  URL (`POST /_sandbox/webhooks`), signed the Standard Webhooks way with base64(client secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import Faults, OrderSpec, PlatformSandbox, SandboxState
from sandboxes.bigcommerce_app import API_PATH, AUTH_PATH, STORE_API_ACCOUNT, TOKEN_PATH, BigCommerceApp
from sandboxes.bigcommerce_controls import routes
from sandboxes.bigcommerce_hooks import Hooks
from sandboxes.catalog import bigcommerce as catalog
from sandboxes.orders import bigcommerce as orders
from sandboxes.standard_webhooks import signed_headers

__all__ = ["API_PATH", "AUTH_PATH", "SANDBOX", "TOKEN_PATH"]

ORDERS = "/v2/orders"
SCOPES = {"created": "store/order/created", "updated": "store/order/updated"}
_INSTALL = re.compile(r"/app/[^/]+/install(/succeeded|/failed)?|/manage/marketplace/apps/[^/]+")
public = orders.public


class _PublicPaths(frozenset[str]):
    """The token endpoint, and the install page of any client id (its path names the app)."""

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (super().__contains__(path) or _INSTALL.fullmatch(path) is not None)


class World:
    """The app and the hooks of one sandbox store."""

    def __init__(self, state: SandboxState) -> None:
        creds = state.store.credentials
        self.store_hash = creds.get("store_hash") or "s" + hashlib.sha256(state.store.store_id.encode()).hexdigest()[:9]
        self.app = BigCommerceApp(
            client_id=creds.get("client_id") or "personalize-sandbox-app",
            client_secret=state.store.webhook_secret or "sandbox-client-secret",
            store_hash=self.store_hash,
            owner_email=state.store.merchant_email,
        )
        self.hooks = Hooks(self.store_hash, self.secret_of, enabled=lambda: state.webhooks.enabled)
        self._state = state

    def secret_of(self, client_id: str) -> str:
        """What a client's hooks are signed with: the app's client secret, or the API account's (the YAML's)."""
        if client_id == self.app.client_id:
            return self.app.client_secret
        return self._state.store.webhook_secret or "unset"

    def client_of(self, token: str) -> str | None:
        configured = self._state.store.credentials.get("access_token", "")
        if configured and hmac.compare_digest(token.encode(), configured.encode()):
            return STORE_API_ACCOUNT
        return self.app.client_id if token and self.app.issued(token) else None


def world(state: SandboxState) -> World:
    found = state.__dict__.get("_bigcommerce")
    if not isinstance(found, World):
        found = state.__dict__["_bigcommerce"] = World(state)
    return found


class BigCommerceSandbox(PlatformSandbox):
    name = "bigcommerce"
    public_paths: frozenset[str] = _PublicPaths({TOKEN_PATH})

    def seed(self, state: SandboxState) -> list[dict[str, Any]]:
        return orders.seeded()

    def new_order(self, state: SandboxState, spec: OrderSpec) -> dict[str, Any]:
        raw = orders.new_order(state, spec)
        if spec.webhook:
            self._announce(state, raw, "store/order/created", {"type": "order", "id": raw["id"]})
        return raw

    def set_status(self, state: SandboxState, raw: dict[str, Any], status: str) -> None:
        orders.set_status(state, raw, status)
        # A status change is an update ("any change") and a statusUpdated; hooks get what they subscribed to.
        self._announce(state, raw, "store/order/updated", {"type": "order", "id": raw["id"]})
        change = {"previous_status_id": raw["_previous_status_id"], "new_status_id": raw["status_id"]}
        self._announce(state, raw, "store/order/statusUpdated", {"type": "order", "id": raw["id"], "status": change})

    @staticmethod
    def _announce(state: SandboxState, raw: dict[str, Any], scope: str, data: dict[str, Any]) -> None:
        created_at = int(parsedate_to_datetime(raw["date_modified"]).timestamp())
        world(state).hooks.announce(scope, data, created_at)

    def authorized(self, state: SandboxState, request: Request) -> bool:
        return world(state).client_of(request.headers.get("x-auth-token", "")) is not None

    def refusal(self, state: SandboxState, request: Request) -> Response | None:
        if self.authorized(state, request):
            return None
        return JSONResponse({"status": 401, "title": "Unauthorized: the X-Auth-Token is missing or invalid"}, 401)

    def controls(self, state: SandboxState) -> APIRouter:
        found = world(state)
        return routes(found.app, found.hooks)

    def rate_limit_response(self, faults: Faults) -> Response:
        reset_ms = str(int(faults.retry_after * 1000))
        return JSONResponse(
            {"status": 429, "title": "Too many requests"},
            status_code=429,
            headers={
                "X-Rate-Limit-Time-Window-Ms": "30000",
                "X-Rate-Limit-Time-Reset-Ms": reset_ms,
                "X-Rate-Limit-Requests-Quota": "150",
                "X-Rate-Limit-Requests-Left": "0",
            },
        )

    def api(self, state: SandboxState) -> APIRouter:
        found = world(state)
        store = APIRouter()
        store.include_router(_orders(state))
        store.include_router(found.hooks.router(lambda r: found.client_of(r.headers.get("x-auth-token", "")) or ""))
        router = APIRouter()
        prefix = API_PATH.format(store_hash=found.store_hash)
        router.include_router(store, prefix=prefix)
        router.include_router(catalog.router(state), prefix=prefix)  # base serves it at the root
        router.include_router(store)  # the YAML stores' base_url is the sandbox's root
        return router

    def webhook(self, state: SandboxState, raw: dict[str, Any], event: str, thin: bool) -> tuple[dict[str, str], bytes]:
        """Always thin (BigCommerce has no other kind); a status change is `statusUpdated`, the scope merchants use."""
        data: dict[str, Any] = {"type": "order", "id": raw["id"]}
        scope = SCOPES.get(event, SCOPES["updated"])
        if event == "updated" and "_previous_status_id" in raw:
            scope = "store/order/statusUpdated"
            data["status"] = {"previous_status_id": raw["_previous_status_id"], "new_status_id": raw["status_id"]}
        body = {
            "scope": scope,
            "store_id": "1025646",
            "data": data,
            # "The SHA-1 hash of the JSON-encoded payload data": a repeated delivery of one event keeps it.
            "hash": hashlib.sha1(json.dumps(data, separators=(",", ":")).encode()).hexdigest(),
            "created_at": int(parsedate_to_datetime(raw["date_modified"]).timestamp()),
            "producer": f"stores/{world(state).store_hash}",
        }
        return self.sign_raw(state, json.dumps(body, separators=(",", ":")).encode(), event)

    def sign_raw(self, state: SandboxState, body: bytes, event: str) -> tuple[dict[str, str], bytes]:
        # The same body is the same message: its id stays the same across redeliveries, as the spec asks.
        msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:24]
        timestamp = int(time.time())
        # BigCommerce's key is base64(client secret) (its sample: `Webhook(base64.b64encode(client_secret))`).
        # No secret configured: sign with one the connector cannot have, so it refuses (as it should).
        key = base64.b64encode((state.store.webhook_secret or "unset").encode()).decode()
        headers = {"Content-Type": "application/json", **signed_headers(key, msg_id, timestamp, body)}
        return {**headers, **registered_headers(state)}, body

    def unsigned_webhook(self, state: SandboxState, raw: dict[str, Any], event: str) -> tuple[dict[str, str], bytes]:
        """A forger has neither the client secret nor the hook's own header."""
        headers, body = super().unsigned_webhook(state, raw, event)
        return {k: v for k, v in headers.items() if k not in registered_headers(state)}, body


def registered_headers(state: SandboxState) -> dict[str, str]:
    """The hook's `headers`, set on `POST /v3/hooks` and "included in the request" of every delivery (BigCommerce's
    webhooks overview). The YAML store's hooks here are registered with the header its credentials name, if any."""
    name = state.store.credentials.get("webhook_header_name")
    value = state.store.credentials.get("webhook_header_value")
    return {name: value} if name and value else {}


def _orders(state: SandboxState) -> APIRouter:
    router = APIRouter()

    @router.get(ORDERS)
    async def list_orders(request: Request) -> Response:
        q = request.query_params
        limit, page = int(q.get("limit", 50)), int(q.get("page", 1))
        found = list(state.orders.values())
        if "min_date_modified" in q:
            since = _when(q["min_date_modified"])
            found = [o for o in found if parsedate_to_datetime(o["date_modified"]) >= since]
        field, _, direction = q.get("sort", "id:asc").partition(":")
        key = (lambda o: parsedate_to_datetime(o[field])) if field.startswith("date_") else (lambda o: o[field])
        found.sort(key=lambda o: (key(o), o["id"]), reverse=direction == "desc")
        return _collection([public(o) for o in found], limit, page)

    @router.get(ORDERS + "/{order_id}")
    async def get_order(order_id: str) -> Response:
        raw = state.orders.get(order_id)
        if raw is None:
            return _not_found()
        return JSONResponse(public(raw))

    @router.get(ORDERS + "/{order_id}/{resource}")
    async def get_rows(order_id: str, resource: str, request: Request) -> Response:
        raw = state.orders.get(order_id)
        private = {"products": "_products", "shipping_addresses": "_shipping_addresses"}.get(resource)
        if raw is None or private is None:
            return _not_found()
        q = request.query_params
        return _collection(raw.get(private, []), int(q.get("limit", 50)), int(q.get("page", 1)))

    return router


def _not_found() -> Response:
    return JSONResponse([{"status": 404, "message": "The requested resource was not found."}], 404)


def _when(value: str) -> datetime:
    """`min_date_modified` is RFC-2822 or ISO-8601."""
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))  # an unencoded "+" arrives as a space
    except ValueError:
        moment = parsedate_to_datetime(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _collection(rows: list[dict[str, Any]], limit: int, page: int) -> Response:
    """v2 collections: a page past the end, or nothing at all, is `204 No Content` with no body."""
    if limit < 1 or page < 1:
        return JSONResponse([{"status": 400, "message": "The field 'limit' or 'page' is invalid."}], 400)
    chunk = rows[(page - 1) * limit : page * limit]
    return JSONResponse(chunk) if chunk else Response(status_code=204)


SANDBOX = BigCommerceSandbox()
