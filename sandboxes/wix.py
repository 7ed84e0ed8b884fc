"""Wix sandbox: eCom Orders v1 (Search Orders with filter/sort/cursor paging, Get Order), API-key auth with
`wix-site-id`, and order webhooks as RS256 JWTs wrapping Wix's nested envelope with the full order.

Orders take the shape of the docs' examples (Search Orders, Order Approved);
the two seeded orders carry the two documented `catalogReference` examples
(`samples/wix/`). Webhooks are signed with the dev-only key in `keys/`
(see `keys/README.md`): a store whose `webhook_secret` is another public key
refuses them, as it would refuse a real app's. Wix always sends the whole
entity, so `thin` is ignored. Behaviour the docs state and the sandbox keeps:
Search never returns `INITIALIZED` orders, defaults to `createdDate DESC`, and
refuses a cursor sent together with a filter or sort.

Forms the docs leave open, served so the connector must read each:
- Search answers its paging in `metadata` (`cursors.next`, `hasNext`), as
  Wix's C# client reads it, not in the `pagingMetadata` some integrations read.
- A `created` event carries the order as `createdEvent.entityAsJson`, a JSON
  string; `updated` as `updatedEvent.currentEntity`; actions as
  `actionEvent.body.order` (`ENTITY_FORMS` holds every documented form).

One app, several sites: the app's key signs every site's webhooks, and each
site is its app instance, the store's `credentials.instance_id`. The app
itself (`wix_app.py`) serves its external install, client-credentials tokens
per instance, Get App Instance, further sites on this one host
(`POST /_sandbox/sites`) and App Instance Removed; an API call with one of its
tokens reads the orders of that token's site, one with the store's API key
those of the store's own site. Webhook tokens carry `iat` (and `exp`), as
Wix's do.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid
import weakref
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import OrderSpec, PlatformSandbox, SandboxState
from sandboxes.orders.wix import STORES_APP_ID, catalog_reference, line_item, order_json, timestamp
from sandboxes.wix_app import AUTH_PATH, TOKEN_PATH, WixApp
from sandboxes.wix_app_routes import app_router

SAMPLES = Path(__file__).parent / "samples" / "wix"
# In the checkout, not the wheel: the key is public, so no installed package may carry it (devstack/keys/).
PRIVATE_KEY = Path(__file__).resolve().parents[1] / "devstack" / "keys" / "wix_dev_private.pem"
SEARCH = "/ecom/v1/orders/search"
ORDER = "/ecom/v1/orders/{order_id}"
ORDER_FQDN = "wix.ecom.v1.order"
INSTANCE_ID = "7c3e0a51-2f4d-4d6b-9a8e-1b5f0c9d2e47"  # a site whose store names none
MAX_LIMIT = 100
TOKEN_TTL_S = 3600
_OPS = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


@cache
def _private_key() -> str:
    return PRIVATE_KEY.read_text()


class WixSandbox(PlatformSandbox):
    name = "wix"
    has_test_flag = False  # Wix orders carry no test flag the connector reads
    public_paths = frozenset({AUTH_PATH, TOKEN_PATH})

    def __init__(self) -> None:
        self._apps: dict[int, WixApp] = {}  # by id(state), dropped when the state is

    def app_of(self, state: SandboxState) -> WixApp | None:
        return self._apps.get(id(state))

    def _site_state(self, state: SandboxState, request: Request) -> SandboxState:
        """The site an app token is for; the store's own site for its API key."""
        app = self.app_of(state)
        site = app.site_of(request.headers.get("authorization", "")) if app else None
        return site.state if site is not None else state

    def seed(self, state: SandboxState) -> list[dict[str, Any]]:
        managed, non_managed = json.loads((SAMPLES / "line_item_catalog_reference_examples.json").read_text())
        placed = datetime(2023, 11, 10, 8, 28, 58, tzinfo=UTC)
        coffee = order_json(
            state,
            [line_item(1, managed["catalogReference"], "Indonesian Blend", 1, Decimal("12.5"), "COFFEE-IB-500")],
            True,
            "Jane Doe",
            placed,
        )
        shirt = order_json(
            state,
            [line_item(1, non_managed["catalogReference"], "Organic T-shirt", 2, Decimal("20"), None)],
            True,
            "John Roe",
            placed.replace(hour=9),
        )
        return [coffee, shirt]

    def new_order(self, state: SandboxState, spec: OrderSpec) -> dict[str, Any]:
        lines = [
            line_item(i, catalog_reference(item), item.title, item.quantity, Decimal(item.price), item.sku)
            for i, item in enumerate(spec.items, start=1)
        ]
        raw = order_json(state, lines, spec.paid, spec.customer_name, state.tick(), spec.customer_email)
        if not spec.paid:
            raw["status"] = "INITIALIZED"  # an online order not paid yet: hidden from Search until approved
        return raw

    def set_status(self, state: SandboxState, raw: dict[str, Any], status: str) -> None:
        if status == "paid":
            raw["paymentStatus"] = "PAID"
            if raw["status"] == "INITIALIZED":
                raw["status"] = "APPROVED"
        elif status == "cancelled":
            raw["status"] = "CANCELED"
        else:
            raw["paymentStatus"] = "FULLY_REFUNDED"
        raw["updatedDate"] = timestamp(state.tick())

    def authorized(self, state: SandboxState, request: Request) -> bool:
        key, site = state.store.credentials.get("api_key", ""), state.store.credentials.get("site_id", "")
        given_key, given_site = request.headers.get("authorization", ""), request.headers.get("wix-site-id", "")
        return (
            bool(key and site)
            and hmac.compare_digest(given_key.encode(), key.encode())
            and hmac.compare_digest(given_site.encode(), site.encode())
        )

    def refusal(self, state: SandboxState, request: Request) -> Response | None:
        """The store's API key with its site id, or a young token the app issued for an installed instance."""
        if self.authorized(state, request):
            return None
        app, given = self.app_of(state), request.headers.get("authorization", "")
        if app is not None and app.site_of(given) is not None:
            return None
        if app is not None and app.knows(given):
            return _error(401, "UNAUTHENTICATED", "The access token is expired or its app instance was removed")
        return _error(401, "UNAUTHENTICATED", "Not authenticated")

    def api(self, state: SandboxState) -> APIRouter:
        """The orders API, and the app's install, token and controls (`wix_app.py`) on the same host."""
        app = WixApp(state)
        key = id(state)
        self._apps[key] = app
        weakref.finalize(state, self._apps.pop, key, None)
        router = APIRouter()
        router.include_router(app_router(app, self))

        @router.post(SEARCH)
        async def search(request: Request) -> Response:
            try:
                return JSONResponse(_search(self._site_state(state, request), await request.json()))
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                return _error(400, "INVALID_ARGUMENT", str(error))

        @router.get(ORDER)
        async def get_order(order_id: str, request: Request) -> Response:
            raw = self._site_state(state, request).orders.get(order_id)
            if raw is None:
                return _error(404, "ORDER_NOT_FOUND", f"Order with ID {order_id} not found")
            return JSONResponse({"order": raw})

        return router

    def webhook(self, state: SandboxState, raw: dict[str, Any], event: str, thin: bool) -> tuple[dict[str, str], bytes]:
        return self.webhook_in_form(state, raw, event, DEFAULT_FORMS.get(event, "body"))

    def webhook_in_form(
        self, state: SandboxState, raw: dict[str, Any], event: str, form: str, issued_at: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The delivery with the order in one of `ENTITY_FORMS`, its token issued at `issued_at` (default now)."""
        return self._signed(state, event, json.dumps(_event(raw, event, form)), _private_key(), "RS256", issued_at)

    def sign_raw(self, state: SandboxState, body: bytes, event: str) -> tuple[dict[str, str], bytes]:
        return self._signed(state, event, body.decode("utf-8", "replace"), _private_key(), "RS256")

    def unsigned_webhook(self, state: SandboxState, raw: dict[str, Any], event: str) -> tuple[dict[str, str], bytes]:
        """The same delivery as an unsigned JWT (`alg: none`): what a forger without the key can send.

        Wix has no signature header to strip, so the generic "unsigned webhook" test needs this hook.
        """
        event_json = json.dumps(_event(raw, event, DEFAULT_FORMS.get(event, "body")))
        return self._signed(state, event, event_json, "", "none")  # `none` takes an empty key

    def app_event(self, state: SandboxState, event_type: str, data: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """An app instance event (`AppRemoved`: data `{"appId"}`), signed and addressed like an order's."""
        return self._signed(state, "", json.dumps(data), _private_key(), "RS256", event_type=event_type)

    def _signed(
        self,
        state: SandboxState,
        event: str,
        data: str,
        key: str,
        algorithm: str,
        issued_at: int | None = None,
        event_type: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        envelope = {
            "eventType": event_type or f"{ORDER_FQDN}_{event}",
            "instanceId": state.store.credentials.get("instance_id") or INSTANCE_ID,
            "data": data,
            "identity": json.dumps({"identityType": "APP", "appId": STORES_APP_ID}),
        }
        now = int(time.time()) if issued_at is None else issued_at
        claims = {"data": json.dumps(envelope), "iat": now, "exp": now + TOKEN_TTL_S}
        token = jwt.encode(claims, key, algorithm=algorithm)
        return {"Content-Type": "text/plain"}, token.encode()


ENTITY_FORMS = {
    "entity": lambda o: {"createdEvent": {"entity": o}},
    "entityAsJson": lambda o: {"createdEvent": {"entityAsJson": json.dumps(o)}},
    "entity as a string": lambda o: {"createdEvent": {"entity": json.dumps(o)}},
    "currentEntity": lambda o: {"updatedEvent": {"currentEntity": o}},
    "currentEntityAsJson": lambda o: {"updatedEvent": {"currentEntityAsJson": json.dumps(o)}},
    "body": lambda o: {"actionEvent": {"body": {"order": o}}},
    "bodyAsJson": lambda o: {"actionEvent": {"bodyAsJson": json.dumps({"order": o})}},
}
DEFAULT_FORMS = {"created": "entityAsJson", "updated": "currentEntity"}  # actions: "body"


def _event(raw: dict[str, Any], slug: str, form: str) -> dict[str, Any]:
    """The inner event; where the order sits depends on the slug (and the form), as on Wix's webhook pages."""
    carrier = ENTITY_FORMS[form](raw)
    return {
        "id": str(uuid.uuid4()),
        "entityFqdn": ORDER_FQDN,
        "slug": slug,
        "entityId": raw["id"],
        "eventTime": timestamp(datetime.now(UTC)),
        "triggeredByAnonymizeRequest": False,
        **carrier,
    }


def _search(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    search = body["search"]
    paging = search.get("cursorPaging") or {}
    limit = paging.get("limit", MAX_LIMIT)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"cursorPaging.limit must be 1..{MAX_LIMIT}")
    if paging.get("cursor"):
        if "filter" in search or "sort" in search:
            raise ValueError("invalid cursor: a cursor already holds the filter and sort")
        query = json.loads(base64.urlsafe_b64decode(paging["cursor"].encode()))
    else:
        query = {
            "filter": search.get("filter") or {},
            "after": None,
            "sort": search.get("sort") or [{"fieldName": "createdDate", "order": "DESC"}],
        }
    (sort,) = query["sort"]
    field, descending = sort["fieldName"], sort.get("order", "ASC") == "DESC"
    if field not in ("createdDate", "updatedDate"):
        raise ValueError(f"sort by {field} is not supported here")
    key = lambda o: (_parse(o[field]), o["id"])  # noqa: E731 - the keyset of the cursor
    found = sorted((o for o in state.orders.values() if _matches(o, query["filter"])), key=key, reverse=descending)
    if query["after"]:
        after = (_parse(query["after"][0]), query["after"][1])
        found = [o for o in found if (key(o) < after if descending else key(o) > after)]
    page, more = found[:limit], len(found) > limit
    cursors = {}
    if more:
        last = [page[-1][field], page[-1]["id"]]
        cursors["next"] = base64.urlsafe_b64encode(json.dumps({**query, "after": last}).encode()).decode()
    return {"orders": page, "metadata": {"count": len(page), "cursors": cursors, "hasNext": more}}


def _matches(order: dict[str, Any], filter_: dict[str, Any]) -> bool:
    if order["status"] == "INITIALIZED":
        return False
    for field, condition in filter_.items():
        if field not in ("createdDate", "updatedDate"):
            raise ValueError(f"filter on {field} is not supported here")
        for op, value in (condition if isinstance(condition, dict) else {"$eq": condition}).items():
            if not _OPS[op](_parse(order[field]), _parse(value)):
                return False
    return True


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse(
        {"message": message, "details": {"applicationError": {"code": code, "description": message}}},
        status_code=status,
    )


SANDBOX = WixSandbox()
