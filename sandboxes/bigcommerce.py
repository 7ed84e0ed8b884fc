"""BigCommerce sandbox: REST v2 orders (list with min_date_modified/sort/page/limit, 204 when empty; one order;
its products), X-Auth-Token, 429 with the X-Rate-Limit-* headers, and thin `store/order/*` webhooks signed the
Standard Webhooks way with base64(client secret).

Orders are kept in the v2 shape, products under the private key `_products`
(the API serves them at `/v2/orders/{id}/products`, never inside the order).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import Faults, ItemSpec, OrderSpec, PlatformSandbox, SandboxState
from sandboxes.standard_webhooks import signed_headers

SAMPLES = Path(__file__).parent / "samples" / "bigcommerce"
ORDERS = "/v2/orders"
PRIVATE = ("_products", "_shipping_addresses", "_previous_status_id")
STATUSES = {s["id"]: s["name"] for s in json.loads((SAMPLES / "order_statuses_v2.json").read_text())}
SCOPES = {"created": "store/order/created", "updated": "store/order/updated"}


def _sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


def _when(value: str) -> datetime:
    """`min_date_modified` is RFC-2822 or ISO-8601."""
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))  # an unencoded "+" arrives as a space
    except ValueError:
        moment = parsedate_to_datetime(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0001")))


def public(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in PRIVATE}


class BigCommerceSandbox(PlatformSandbox):
    name = "bigcommerce"

    def seed(self, state: SandboxState) -> list[dict[str, Any]]:
        # The docs' product rows belong to an order (149) the docs do not show; they are attached to
        # the listed order so each seeded order is whole.
        orders = _sample("orders_list_v2.json")
        for order in orders:
            order["_products"] = [{**row, "order_id": order["id"]} for row in _sample("order_products_v2.json")]
        return orders

    def new_order(self, state: SandboxState, spec: OrderSpec) -> dict[str, Any]:
        raw = copy.deepcopy(_sample("order_get_v2.json"))
        order_id, now = state.next_id(), state.tick()
        rows = [self._row(state, order_id, item) for item in spec.items]
        items = sum((Decimal(row["total_inc_tax"]) for row in rows), Decimal(0))
        total = items + Decimal(raw["shipping_cost_inc_tax"])
        first, _, last = spec.customer_name.partition(" ")
        raw.update(
            id=order_id,
            date_created=_rfc2822(now),
            date_modified=_rfc2822(now),
            fees=[],
            staff_notes="personalize_test" if spec.test else "",
            items_total=sum(r["quantity"] for r in rows),
            subtotal_ex_tax=_money(items),
            subtotal_inc_tax=_money(items),
            subtotal_tax="0.0000",
            total_ex_tax=_money(total),
            total_inc_tax=_money(total),
            total_tax="0.0000",
            discount_amount="0.0000",
            coupon_discount="0.0000",
            _products=rows,
        )
        self._status(raw, 11 if spec.paid else 7, "captured" if spec.paid else "pending")
        raw["billing_address"].update(first_name=first, last_name=last, email=spec.customer_email)
        # Shipping addresses are a resource of their own in v2, shaped like the billing address plus ids.
        raw["_shipping_addresses"] = [
            {
                **raw["billing_address"],
                "id": state.next_id(),
                "order_id": order_id,
                "items_total": raw["items_total"],
                "shipping_method": "Flat Rate",
            }
        ]
        base = f"{state.store.base_url or 'https://api.bigcommerce.com/stores/sandbox'}/v2/orders/{order_id}"
        for link, resource in (
            ("products", "products"),
            ("shipping_addresses", "shippingaddresses"),
            ("coupons", "coupons"),
        ):
            raw[link] = {"url": f"{base}/{resource}", "resource": f"/orders/{order_id}/{resource}"}
        return raw

    def _row(self, state: SandboxState, order_id: int, item: ItemSpec) -> dict[str, Any]:
        row = copy.deepcopy(_sample("order_products_v2.json")[0])
        row_id, price = state.next_id(), Decimal(item.price)
        options = []
        if item.buyer_text:
            options.append(
                {
                    "id": state.next_id(),
                    "option_id": 37,
                    "order_product_id": row_id,
                    "product_option_id": 122,
                    "display_name": "Personalization",
                    "display_value": item.buyer_text,
                    "value": item.buyer_text,
                    "type": "Text field",
                    "name": "Personalization",
                    "display_style": "",
                }
            )
        row.update(
            id=row_id,
            order_id=order_id,
            product_id=int(item.product_id),
            name=item.title,
            name_customer=item.title,
            name_merchant=item.title,
            sku=item.sku or "",
            quantity=item.quantity,
            base_price=_money(price),
            price_ex_tax=_money(price),
            price_inc_tax=_money(price),
            price_tax="0.0000",
            base_total=_money(price * item.quantity),
            total_ex_tax=_money(price * item.quantity),
            total_inc_tax=_money(price * item.quantity),
            total_tax="0.0000",
            discounted_total_inc_tax=_money(price * item.quantity),
            applied_discounts=[],
            product_options=options,
            option_set_id=None,
        )
        if item.variant_id:
            row["variant_id"] = int(item.variant_id)
        return row

    def set_status(self, state: SandboxState, raw: dict[str, Any], status: str) -> None:
        raw["_previous_status_id"] = raw["status_id"]
        if status == "paid":
            self._status(raw, 11, "captured")
        elif status == "cancelled":
            self._status(raw, 5, raw["payment_status"])
        else:
            self._status(raw, 4, "refunded")
            raw["refunded_amount"] = raw["total_inc_tax"]
        raw["date_modified"] = _rfc2822(state.tick())

    @staticmethod
    def _status(raw: dict[str, Any], status_id: int, payment: str) -> None:
        raw.update(
            status_id=status_id, status=STATUSES[status_id], custom_status=STATUSES[status_id], payment_status=payment
        )

    def authorized(self, state: SandboxState, request: Request) -> bool:
        token = state.store.credentials.get("access_token", "")
        return bool(token) and hmac.compare_digest(request.headers.get("x-auth-token", "").encode(), token.encode())

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
        router = APIRouter()

        @router.get(ORDERS)
        async def list_orders(request: Request) -> Response:
            q = request.query_params
            limit, page = int(q.get("limit", 50)), int(q.get("page", 1))
            orders = list(state.orders.values())
            if "min_date_modified" in q:
                since = _when(q["min_date_modified"])
                orders = [o for o in orders if parsedate_to_datetime(o["date_modified"]) >= since]
            field, _, direction = q.get("sort", "id:asc").partition(":")
            key = (lambda o: parsedate_to_datetime(o[field])) if field.startswith("date_") else (lambda o: o[field])
            orders.sort(key=lambda o: (key(o), o["id"]), reverse=direction == "desc")
            return _collection([public(o) for o in orders], limit, page)

        @router.get(ORDERS + "/{order_id}")
        async def get_order(order_id: str) -> Response:
            raw = state.orders.get(order_id)
            if raw is None:
                return JSONResponse([{"status": 404, "message": "The requested resource was not found."}], 404)
            return JSONResponse(public(raw))

        @router.get(ORDERS + "/{order_id}/products")
        async def get_products(order_id: str, request: Request) -> Response:
            raw = state.orders.get(order_id)
            if raw is None:
                return JSONResponse([{"status": 404, "message": "The requested resource was not found."}], 404)
            q = request.query_params
            return _collection(raw["_products"], int(q.get("limit", 50)), int(q.get("page", 1)))

        @router.get(ORDERS + "/{order_id}/shipping_addresses")
        async def get_shipping_addresses(order_id: str, request: Request) -> Response:
            raw = state.orders.get(order_id)
            if raw is None:
                return JSONResponse([{"status": 404, "message": "The requested resource was not found."}], 404)
            q = request.query_params
            return _collection(raw.get("_shipping_addresses", []), int(q.get("limit", 50)), int(q.get("page", 1)))

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
            "producer": f"stores/{state.store.store_id}",
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
    webhooks overview). The store's hooks here are registered with the header its credentials name, if any."""
    name = state.store.credentials.get("webhook_header_name")
    value = state.store.credentials.get("webhook_header_value")
    return {name: value} if name and value else {}


def _collection(rows: list[dict[str, Any]], limit: int, page: int) -> Response:
    """v2 collections: a page past the end, or nothing at all, is `204 No Content` with no body."""
    if limit < 1 or page < 1:
        return JSONResponse([{"status": 400, "message": "The field 'limit' or 'page' is invalid."}], 400)
    chunk = rows[(page - 1) * limit : page * limit]
    return JSONResponse(chunk) if chunk else Response(status_code=204)


SANDBOX = BigCommerceSandbox()
