"""Etsy sandbox: Open API v3 shop receipts (getShopReceipts filtered by `min_last_modified`, sorted, paged by
`limit`/`offset`; getShopReceipt), both auth headers checked, and thin webhooks signed the Standard Webhooks way.

Receipts are built by `orders/etsy.py` to Etsy's OAS (Etsy publishes no example receipt). The webhook body
has the shape of the real one (`samples/etsy/webhook_order_paid.json`) with `resource_url` pointing at this
sandbox's receipt.

Webhooks are per app: one endpoint secret (the store's `webhook_secret`) signs for every shop that
authorized the app, and the body names its shop (`shop_id`); several sandboxes with one secret and their
own `shop_id` are several shops of one app. Seeded receipt 3301000001 asks two personalization questions
(Etsy's multi-question personalization: one property-54 variation per question, named by it).

OAuth 2 (`sandboxes/oauth.py`): the consent page at `AUTH_PATH` (www.etsy.com's path) and the token endpoint at
`TOKEN_PATH` (api.etsy.com's), PKCE S256 required, exact redirect URIs, access tokens prefixed with the seller's
user id, refresh tokens that rotate. The app (its keystring and shared secret, its redirect URIs, how long an
access token lives) is set with `POST /_sandbox/oauth`, defaulting to the store's credentials. A token the
server issued reaches only what its scopes cover (Etsy's OAS: getMe `shops_r`, receipts `transactions_r`,
createDraftListing `listings_w`); the store's configured `access_token` (the YAML's) is accepted as before.
getShop answers the shop's name (the store's `shop_name` credential, else its store id).

Etsy's page lists one event, `order.paid` (a third-party summary adds order.canceled / shipped /
delivered). The sandbox announces every change so tests can exercise delivery, naming the event after
the receipt's state; the connector fetches the receipt whatever the event says. Etsy's 429 carries none
of its rate-limit headers (its rate-limit page), so the sandbox's has none either.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import asdict
from html import escape
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from sandboxes.base import Faults, OrderSpec, PlatformSandbox, SandboxState
from sandboxes.oauth import OAuthServer, TokenError
from sandboxes.orders.etsy import receipt, seeded, transaction_of
from sandboxes.standard_webhooks import signed_headers

SHOPS = "/v3/application/shops"  # getShopReceipts: /v3/application/shops/{shop_id}/receipts
ME = "/v3/application/users/me"
AUTH_PATH = "/oauth/connect"  # www.etsy.com/oauth/connect: the seller's consent
TOKEN_PATH = "/v3/public/oauth/token"  # api.etsy.com: codes and refresh tokens for tokens
EARLIEST = 946684800  # the OAS `minimum` of min_last_modified / max_last_modified (2000-01-01)
SORT_KEYS = {"created": "created_timestamp", "updated": "updated_timestamp", "receipt_id": "receipt_id"}
SORT_ORDERS = {"asc": False, "ascending": False, "up": False, "desc": True, "descending": True, "down": True}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class EtsySandbox(PlatformSandbox):
    name = "etsy"
    has_test_flag = False  # Etsy has no test orders: a spec's `test` is ignored

    def order_id(self, raw: dict[str, Any]) -> str:
        return str(raw["receipt_id"])

    def seed(self, state: SandboxState) -> list[dict[str, Any]]:
        return seeded()

    def new_order(self, state: SandboxState, spec: OrderSpec) -> dict[str, Any]:
        receipt_id, when = state.next_id(), int(state.tick().timestamp())
        lines = [transaction_of(state, receipt_id, when, spec.paid, item) for item in spec.items]
        return receipt(receipt_id, when, spec.paid, spec.customer_name, spec.customer_email, lines)

    def set_status(self, state: SandboxState, raw: dict[str, Any], status: str) -> None:
        when = int(state.tick().timestamp())
        if status == "paid":
            raw.update(status="paid", is_paid=True)
            for transaction in raw["transactions"]:
                transaction["paid_timestamp"] = when
        elif status == "cancelled":
            raw["status"] = "canceled"
        else:
            raw["status"] = "fully refunded"
            raw["refunds"].append(
                {
                    "amount": raw["grandtotal"],
                    "created_timestamp": when,
                    "reason": "buyer asked",
                    "note_from_issuer": None,
                    "status": "completed",
                }
            )
        raw.update(update_timestamp=when, updated_timestamp=when)

    public_paths = frozenset({AUTH_PATH, TOKEN_PATH})

    def authorized(self, state: SandboxState, request: Request) -> bool:
        return self.refusal(state, request) is None

    def refusal(self, state: SandboxState, request: Request) -> Response | None:
        """Etsy's own answers: the shared secret is required in `x-api-key` (403 since early 2026), then the
        bearer token: the store's configured one, or one this sandbox's OAuth server issued, young, and granted
        the scope the call needs."""
        creds = state.store.credentials
        oauth = state.oauth
        app = (oauth.client_id, oauth.client_secret) if oauth else (creds.get("keystring", ""), "")
        api_key = f"{app[0]}:{app[1] or creds.get('shared_secret', '')}"
        presented_key = request.headers.get("x-api-key", "")
        if ":" not in presented_key:
            return _error(403, "Shared secret is required in x-api-key header.")
        if not secrets.compare_digest(presented_key.encode(), api_key.encode()):
            return _error(401, "Invalid API key")
        presented = request.headers.get("authorization", "").removeprefix("Bearer ")
        configured = creds.get("access_token", "")
        if configured and secrets.compare_digest(presented.encode(), configured.encode()):
            return None
        issued = oauth.access(presented) if oauth else "unknown"
        if issued == "valid" and oauth is not None:
            needed = _scope_needed(request.method, request.url.path)
            if needed is None or needed in oauth.scope_of(presented):
                return None
            return JSONResponse({"error": f"Missing required scope: {needed}"}, status_code=403)
        description = "access token is expired" if issued == "expired" else "access token is invalid"
        return JSONResponse({"error": "invalid_token", "error_description": description}, status_code=401)

    def controls(self, state: SandboxState) -> APIRouter:
        """The app's OAuth settings: its registered redirect URIs and how long access tokens live (seconds in
        tests), `revoke` (the seller changed their password), and what the connector did (`GET`)."""
        creds = state.store.credentials
        state.oauth = OAuthServer(
            creds.get("keystring", ""), client_secret=creds.get("shared_secret", ""), token_prefix=f"{_user_id(state)}."
        )
        oauth = state.oauth
        router = APIRouter()

        @router.post("/_sandbox/oauth")
        async def configure(settings: OAuthSettings) -> dict[str, Any]:
            oauth.redirect_uris = set(settings.redirect_uris)
            oauth.access_ttl_s = settings.access_ttl_s
            oauth.client_id = settings.client_id or oauth.client_id
            oauth.client_secret = settings.client_secret or oauth.client_secret
            return {**settings.model_dump(exclude={"client_secret"}), "client_id": oauth.client_id}

        @router.get("/_sandbox/oauth")
        async def stats() -> dict[str, Any]:
            return asdict(oauth.stats)

        @router.post("/_sandbox/oauth/revoke")
        async def revoke() -> dict[str, Any]:
            oauth.revoke()
            return {"revoked": True}

        @router.get(AUTH_PATH)
        async def connect(request: Request) -> Response:
            query = dict(request.query_params)
            problem = oauth.consent_problem(query)
            if problem:
                return HTMLResponse(f"<!doctype html><title>Error</title><p>{escape(problem)}</p>", status_code=400)
            return HTMLResponse(oauth.consent_page(query, AUTH_PATH, app_name=f"App {oauth.client_id}"))

        @router.post(AUTH_PATH)
        async def decide(request: Request) -> Response:
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
            try:
                return RedirectResponse(oauth.decide(form), status_code=302)
            except TokenError as refused:
                return HTMLResponse(f"<!doctype html><title>Error</title><p>{escape(refused.description)}</p>", 400)

        @router.post(TOKEN_PATH)
        async def token(request: Request) -> Response:
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
            try:
                return JSONResponse(oauth.token(form))
            except TokenError as refused:
                body = {"error": refused.error, "error_description": refused.description}
                return JSONResponse(body, status_code=refused.status)

        return router

    def rate_limit_response(self, faults: Faults) -> Response:
        return _error(429, "You have exceeded your rate limit. Please try again later.")

    def api(self, state: SandboxState) -> APIRouter:
        router = APIRouter()
        shop_id = state.store.credentials.get("shop_id", "")

        @router.get(ME)
        async def me() -> Response:
            """getMe: who granted the token, and their shop (how a connector learns the shop it was given)."""
            # A seller account without a shop has none to name (the OAS's shop_id is then absent).
            return JSONResponse({"user_id": _user_id(state), "shop_id": int(shop_id) if shop_id.isdigit() else None})

        @router.get(SHOPS + "/{shop}")
        async def get_shop(shop: str) -> Response:
            """getShop: the shop's public record; `shop_name` is the name the seller sees."""
            if shop != shop_id:
                return _error(404, f"Shop {shop} not found")
            name = state.store.credentials.get("shop_name") or state.store.store_id
            return JSONResponse({"shop_id": int(shop_id), "shop_name": name, "user_id": _user_id(state)})

        @router.get(SHOPS + "/{shop}/receipts")
        async def list_receipts(shop: str, request: Request) -> Response:
            if shop != shop_id:
                return _error(404, f"Shop {shop} not found")
            q = request.query_params
            try:
                limit, offset = int(q.get("limit", 25)), int(q.get("offset", 0))
                since = int(q.get("min_last_modified", EARLIEST))
                until = int(q["max_last_modified"]) if "max_last_modified" in q else None
            except ValueError:
                return _error(400, "Invalid value for an integer parameter")
            if not 1 <= limit <= 100 or offset < 0 or since < EARLIEST:
                return _error(400, "Invalid value for limit, offset or min_last_modified")
            sort_on, sort_order = q.get("sort_on", "created"), q.get("sort_order", "desc")
            if sort_on not in SORT_KEYS or sort_order not in SORT_ORDERS:
                return _error(400, "Invalid value for sort_on or sort_order")
            receipts = [
                r
                for r in state.orders.values()
                if r["updated_timestamp"] >= since and (until is None or r["updated_timestamp"] <= until)
            ]
            receipts.sort(key=lambda r: (r[SORT_KEYS[sort_on]], r["receipt_id"]), reverse=SORT_ORDERS[sort_order])
            return JSONResponse({"count": len(receipts), "results": receipts[offset : offset + limit]})

        @router.get(SHOPS + "/{shop}/receipts/{receipt_id}")
        async def get_receipt(shop: str, receipt_id: str) -> Response:
            raw = state.orders.get(receipt_id) if shop == shop_id else None
            if raw is None:
                return _error(404, f"No receipt {receipt_id} in shop {shop}")
            return JSONResponse(raw)

        return router

    def webhook(self, state: SandboxState, raw: dict[str, Any], event: str, thin: bool) -> tuple[dict[str, str], bytes]:
        """Always thin: Etsy's webhooks name a receipt and never carry it."""
        shop_id = state.store.credentials.get("shop_id", "0")
        base = state.store.base_url or "https://openapi.etsy.com"
        body = {
            "event_type": _event_type(raw),
            "resource_url": f"{base}{SHOPS}/{shop_id}/receipts/{raw['receipt_id']}",
            "shop_id": int(shop_id),
        }
        return self.sign_raw(state, json.dumps(body).encode(), event)

    def sign_raw(self, state: SandboxState, body: bytes, event: str) -> tuple[dict[str, str], bytes]:
        msg_id, timestamp = f"msg_{secrets.token_urlsafe(18)}", int(time.time())
        # Etsy's secret is the spec's own `whsec_<base64 key>`.
        headers = signed_headers(state.store.webhook_secret or "", msg_id, timestamp, body)
        return {"Content-Type": "application/json", **headers}, body


class OAuthSettings(BaseModel):
    redirect_uris: list[str] = Field(default_factory=list)
    access_ttl_s: float = Field(default=3600.0, gt=0, description="Etsy's is an hour; tests want seconds.")
    client_id: str | None = Field(default=None, description="The app's keystring; default the store's `keystring`.")
    client_secret: str | None = Field(
        default=None, description="The app's shared secret (x-api-key); default the store's `shared_secret`."
    )


# The scope each call needs (Etsy's OAS `security`); a call not named needs none beyond a valid token.
_SCOPES = (
    ("GET", re.compile(r"^/v3/application/users/me$"), "shops_r"),
    ("GET", re.compile(r"^/v3/application/shops/\d+/receipts(/\d+)?$"), "transactions_r"),
    ("POST", re.compile(r"^/v3/application/shops/\d+/listings$"), "listings_w"),
)


def _scope_needed(method: str, path: str) -> str | None:
    return next((scope for m, pattern, scope in _SCOPES if m == method and pattern.match(path)), None)


def _user_id(state: SandboxState) -> int:
    """The seller's user id (Etsy prefixes every token with it); the shop's own id plus one if none is given."""
    creds = state.store.credentials
    given = creds.get("user_id", "")
    return int(given) if given.isdigit() else int(creds.get("shop_id", "0") or 0) + 1


def _event_type(raw: dict[str, Any]) -> str:
    """Etsy announces nothing before payment; an unpaid receipt still goes out as `order.paid` (tests drive delivery)."""
    if raw["status"] in ("canceled", "fully refunded"):
        return "order.canceled"
    return "order.shipped" if raw["is_shipped"] else "order.paid"


SANDBOX = EtsySandbox()
