"""Etsy sandbox: Open API v3 shop receipts (getShopReceipts filtered by `min_last_modified`, sorted, paged by
`limit`/`offset`; getShopReceipt), both auth headers checked, and thin webhooks signed the Standard Webhooks way.

Receipts are built to the field names and types of Etsy's official OAS schemas (`samples/etsy/
oas_shop_receipt_schemas.json`): Etsy publishes no example receipt. Formatted values and titles are
HTML-escaped as Etsy sends them (etsy/open-api#254). The webhook body has the shape of the real one
(`samples/etsy/webhook_order_paid.json`) with `resource_url` pointing at this sandbox's receipt.

Etsy's page lists one event, `order.paid` (a third-party summary adds order.canceled / shipped /
delivered). The sandbox announces every change so tests can exercise delivery, naming the event after
the receipt's state; the connector fetches the receipt whatever the event says. Etsy's 429 carries none
of its rate-limit headers (its rate-limit page), so the sandbox's has none either.
"""

from __future__ import annotations

import html
import json
import secrets
import time
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import Faults, ItemSpec, OrderSpec, PlatformSandbox, SandboxState
from sandboxes.standard_webhooks import signed_headers

SHOPS = "/v3/application/shops"  # getShopReceipts: /v3/application/shops/{shop_id}/receipts
EARLIEST = 946684800  # the OAS `minimum` of min_last_modified / max_last_modified (2000-01-01)
SELLER_USER_ID = 87654321
SORT_KEYS = {"created": "created_timestamp", "updated": "updated_timestamp", "receipt_id": "receipt_id"}
SORT_ORDERS = {"asc": False, "ascending": False, "up": False, "desc": True, "descending": True, "down": True}


def _money(value: str | Decimal) -> dict[str, Any]:
    return {"amount": int(Decimal(value) * 100), "divisor": 100, "currency_code": "USD"}


def _escaped(text: str) -> str:
    return html.escape(text).replace("&#x27;", "&#039;")


def _personalization(text: str) -> dict[str, Any]:
    return {"property_id": 54, "value_id": None, "formatted_name": "Personalization", "formatted_value": _escaped(text)}


def _transaction(
    tid: int,
    receipt_id: int,
    when: int,
    paid: bool,
    listing_id: int,
    product_id: int,
    title: str,
    quantity: int,
    price: str,
    sku: str | None,
    variations: list[dict],
) -> dict[str, Any]:
    return {
        "transaction_id": tid,
        "title": _escaped(title),
        "description": None,
        "seller_user_id": SELLER_USER_ID,
        "buyer_user_id": 11223344,
        "create_timestamp": when,
        "created_timestamp": when,
        "paid_timestamp": when if paid else None,
        "shipped_timestamp": None,
        "quantity": quantity,
        "listing_image_id": None,
        "receipt_id": receipt_id,
        "is_digital": False,
        "file_data": "",
        "listing_id": listing_id,
        "transaction_type": "listing",
        "product_id": product_id,
        "sku": sku or "",
        "price": _money(price),
        "shipping_cost": _money("0"),
        "variations": variations,
        "product_data": [],
        "shipping_profile_id": None,
        "min_processing_days": 1,
        "max_processing_days": 3,
        "shipping_method": None,
        "shipping_upgrade": None,
        "expected_ship_date": when + 3 * 86400,
        "buyer_coupon": 0,
        "shop_coupon": 0,
    }


def _receipt(
    receipt_id: int, when: int, paid: bool, name: str, email: str | None, transactions: list[dict], shipping: str = "0"
) -> dict[str, Any]:
    items = sum(Decimal(t["price"]["amount"]) / 100 * t["quantity"] for t in transactions)
    total = items + Decimal(shipping)
    return {
        "receipt_id": receipt_id,
        "receipt_type": 0,
        "seller_user_id": SELLER_USER_ID,
        "seller_email": "seller@example.com",
        "buyer_user_id": 11223344,
        "buyer_email": email,
        "name": name,
        "first_line": "12 Analytical Row",
        "second_line": None,
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "status": "paid" if paid else "open",
        "formatted_address": f"{name}\n12 Analytical Row\nSpringfield, IL 62701\nUnited States",
        "country_iso": "US",
        "payment_method": "cc",
        "payment_email": None,
        "message_from_seller": None,
        "message_from_buyer": None,
        "message_from_payment": None,
        "is_paid": paid,
        "is_shipped": False,
        "create_timestamp": when,
        "created_timestamp": when,
        "update_timestamp": when,
        "updated_timestamp": when,
        "is_gift": False,
        "gift_message": "",
        "gift_sender": "",
        "grandtotal": _money(total),
        "subtotal": _money(items),
        "total_price": _money(items),
        "total_shipping_cost": _money(shipping),
        "total_tax_cost": _money("0"),
        "total_vat_cost": _money("0"),
        "discount_amt": _money("0"),
        "gift_wrap_price": _money("0"),
        "shipments": [],
        "transactions": transactions,
        "refunds": [],
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class EtsySandbox(PlatformSandbox):
    name = "etsy"
    has_test_flag = False  # Etsy has no test orders: a spec's `test` is ignored

    def order_id(self, raw: dict[str, Any]) -> str:
        return str(raw["receipt_id"])

    def seed(self, state: SandboxState) -> list[dict[str, Any]]:
        """Two receipts of May 2024: a paid one with buyer text, a shipped one whose buyer left it empty."""
        when = 1714557600
        mug = _transaction(
            4101000001,
            3301000001,
            when,
            True,
            1509876543,
            12876543210,
            "Name mug - 11oz",
            2,
            "14.50",
            "MUG-NAME",
            [
                {"property_id": 200, "value_id": 1213, "formatted_name": "Color", "formatted_value": "White"},
                _personalization("Ada & Grace"),
            ],
        )
        tote = _transaction(
            4101000002, 3301000001, when, True, 1509870001, 12870000001, "Plain tote", 1, "9.00", None, []
        )
        shipped = _receipt(
            3301000002,
            when + 3600,
            True,
            "Grace Hopper",
            None,
            [
                _transaction(
                    4101000003,
                    3301000002,
                    when + 3600,
                    True,
                    1509876543,
                    12876543210,
                    "Name mug - 11oz",
                    1,
                    "14.50",
                    "MUG-NAME",
                    [_personalization("Not requested on this item.")],
                )
            ],
            shipping="4.00",
        )
        shipped.update(
            status="completed",
            is_shipped=True,
            update_timestamp=when + 90000,
            updated_timestamp=when + 90000,
            shipments=[
                {
                    "receipt_shipping_id": 5501000001,
                    "shipment_notification_timestamp": when + 90000,
                    "carrier_name": "usps",
                    "tracking_code": "9400111899223100000000",
                }
            ],
        )
        return [_receipt(3301000001, when, True, "Ada Lovelace", "ada@example.com", [mug, tote]), shipped]

    def new_order(self, state: SandboxState, spec: OrderSpec) -> dict[str, Any]:
        receipt_id, when = state.next_id(), int(state.tick().timestamp())
        lines = [self._line(state, receipt_id, when, spec.paid, item) for item in spec.items]
        return _receipt(receipt_id, when, spec.paid, spec.customer_name, spec.customer_email, lines)

    def _line(self, state: SandboxState, receipt_id: int, when: int, paid: bool, item: ItemSpec) -> dict[str, Any]:
        variations = [_personalization(item.buyer_text)] if item.buyer_text else []
        product_id = int(item.variant_id) if item.variant_id else state.next_id()
        return _transaction(
            state.next_id(),
            receipt_id,
            when,
            paid,
            int(item.product_id),
            product_id,
            item.title,
            item.quantity,
            item.price,
            item.sku,
            variations,
        )

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

    def authorized(self, state: SandboxState, request: Request) -> bool:
        creds = state.store.credentials
        api_key = f"{creds.get('keystring', '')}:{creds.get('shared_secret', '')}"
        bearer = f"Bearer {creds.get('access_token', '')}"
        return secrets.compare_digest(
            request.headers.get("x-api-key", "").encode(), api_key.encode()
        ) and secrets.compare_digest(request.headers.get("authorization", "").encode(), bearer.encode())

    def rate_limit_response(self, faults: Faults) -> Response:
        return _error(429, "You have exceeded your rate limit. Please try again later.")

    def api(self, state: SandboxState) -> APIRouter:
        router = APIRouter()
        shop_id = state.store.credentials.get("shop_id", "")

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


def _event_type(raw: dict[str, Any]) -> str:
    """Etsy announces nothing before payment; an unpaid receipt still goes out as `order.paid` (tests drive delivery)."""
    if raw["status"] in ("canceled", "fully refunded"):
        return "order.canceled"
    return "order.shipped" if raw["is_shipped"] else "order.paid"


SANDBOX = EtsySandbox()
