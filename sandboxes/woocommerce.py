"""WooCommerce sandbox: REST v3 orders (list with modified_after/orderby/page, one order), Basic or OAuth 1.0a
auth, and `order.created`/`order.updated` webhooks carrying the full order, signed with X-WC-Webhook-Signature."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from woocommerce.oauth import OAuth

from sandboxes.base import ItemSpec, OrderSpec, PlatformSandbox, SandboxState

SAMPLES = Path(__file__).parent / "samples" / "woocommerce"
ORDERS = "/wp-json/wc/v3/orders"


# wp_specialchars_decode(…, ENT_QUOTES): the entities of < > " ' & (named, decimal, or hex for the last three).
_WP_ENTITIES = re.compile(r"&(lt|gt|quot|amp);|&#0*(60|62|34|39|38);|&#[xX]0*(27|22|26);")
_NAMED = {"lt": "<", "gt": ">", "quot": '"', "amp": "&"}


def _signature(secret: str, body: bytes) -> str:
    """WooCommerce's `generate_signature` (PLATFORMS.md): base64 of the raw HMAC-SHA256 of the exact body, keyed
    with `wp_specialchars_decode(secret, ENT_QUOTES)`."""
    key = _WP_ENTITIES.sub(_decoded, secret)
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _decoded(entity: re.Match[str]) -> str:
    named, decimal, hexadecimal = entity.groups()
    return _NAMED[named] if named else chr(int(decimal)) if decimal else chr(int(hexadecimal, 16))


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class WooCommerceSandbox(PlatformSandbox):
    name = "woocommerce"

    def seed(self, state: SandboxState) -> list[dict[str, Any]]:
        return json.loads((SAMPLES / "orders_list_v3.json").read_text())

    def new_order(self, state: SandboxState, spec: OrderSpec) -> dict[str, Any]:
        raw = copy.deepcopy(json.loads((SAMPLES / "order_retrieve_v3.json").read_text()))
        order_id, now = state.next_id(), state.tick()
        first, _, last = spec.customer_name.partition(" ")
        raw.update(
            id=order_id,
            number=str(order_id),
            order_key=f"wc_order_{secrets.token_hex(6)}",
            status="processing" if spec.paid else "pending",
            date_created=_gmt(now),
            date_created_gmt=_gmt(now),
            date_modified=_gmt(now),
            date_modified_gmt=_gmt(now),
            date_paid=_gmt(now) if spec.paid else None,
            date_paid_gmt=_gmt(now) if spec.paid else None,
            meta_data=[{"id": 1, "key": "personalize_test", "value": "yes"}] if spec.test else [],
        )
        raw["billing"].update(first_name=first, last_name=last, email=spec.customer_email)
        raw["shipping"].update(first_name=first, last_name=last)
        raw["line_items"] = [self._line(state, item) for item in spec.items]
        raw["total"] = str(sum(Decimal(line["total"]) for line in raw["line_items"]) + Decimal(raw["shipping_total"]))
        raw["_links"]["self"][0]["href"] = f"https://example.com{ORDERS}/{order_id}"
        return raw

    def _line(self, state: SandboxState, item: ItemSpec) -> dict[str, Any]:
        subtotal = str(Decimal(item.price) * item.quantity)
        meta = []
        if item.buyer_text:
            meta.append(
                {
                    "id": state.next_id(),
                    "key": "Personalization",
                    "value": item.buyer_text,
                    "display_key": "Personalization",
                    "display_value": item.buyer_text,
                }
            )
        return {
            "id": state.next_id(),
            "name": item.title,
            "product_id": int(item.product_id),
            "variation_id": int(item.variant_id or 0),
            "quantity": item.quantity,
            "tax_class": "",
            "subtotal": subtotal,
            "subtotal_tax": "0.00",
            "total": subtotal,
            "total_tax": "0.00",
            "taxes": [],
            "meta_data": meta,
            "sku": item.sku or "",
            "price": float(item.price),
        }

    def set_status(self, state: SandboxState, raw: dict[str, Any], status: str) -> None:
        now = state.tick()
        raw["status"] = {"paid": "processing", "cancelled": "cancelled", "refunded": "refunded"}[status]
        if status == "paid":
            raw.update(date_paid=_gmt(now), date_paid_gmt=_gmt(now))
        raw.update(date_modified=_gmt(now), date_modified_gmt=_gmt(now))

    def authorized(self, state: SandboxState, request: Request) -> bool:
        key = state.store.credentials.get("consumer_key", "")
        secret = state.store.credentials.get("consumer_secret", "")
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            given = base64.b64decode(header[6:]).decode(errors="replace")
            return hmac.compare_digest(given.encode(), f"{key}:{secret}".encode())
        params = dict(request.query_params)
        signature = params.pop("oauth_signature", None)
        if not signature or params.get("oauth_consumer_key") != key:
            return False
        url = str(request.url).split("?", 1)[0]
        expected = OAuth(url, key, secret, version="wc/v3", method=request.method).generate_oauth_signature(params, url)
        return hmac.compare_digest(signature.encode(), expected.encode())

    def api(self, state: SandboxState) -> APIRouter:
        router = APIRouter()

        @router.get(ORDERS)
        async def list_orders(request: Request) -> Response:
            q = request.query_params
            per_page = int(q.get("per_page", 10))
            if not 1 <= per_page <= 100:
                return JSONResponse({"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page"}, 400)
            page = int(q.get("page", 1))
            orders = list(state.orders.values())
            if "modified_after" in q:
                after = q["modified_after"].replace("Z", "")
                orders = [o for o in orders if o["date_modified_gmt"] > after]
            key = "date_modified_gmt" if q.get("orderby") == "modified" else "date_created_gmt"
            orders.sort(key=lambda o: (o[key], o["id"]), reverse=q.get("order", "desc") == "desc")
            total = len(orders)
            pages = (total + per_page - 1) // per_page
            chunk = orders[(page - 1) * per_page : page * per_page]
            return JSONResponse(chunk, headers={"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})

        @router.get(ORDERS + "/{order_id}")
        async def get_order(order_id: str) -> Response:
            raw = state.orders.get(order_id)
            if raw is None:
                return JSONResponse(
                    {
                        "code": "woocommerce_rest_shop_order_invalid_id",
                        "message": "Invalid ID.",
                        "data": {"status": 404},
                    },
                    404,
                )
            return JSONResponse(raw)

        return router

    def webhook(self, state: SandboxState, raw: dict[str, Any], event: str, thin: bool) -> tuple[dict[str, str], bytes]:
        return self.sign_raw(state, json.dumps(raw, separators=(",", ":")).encode(), event)

    def sign_raw(self, state: SandboxState, body: bytes, event: str) -> tuple[dict[str, str], bytes]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/8.0.0 Hookshot (WordPress/6.4)",
            "X-WC-Webhook-Source": "https://example.com/",
            "X-WC-Webhook-Topic": f"order.{event}",
            "X-WC-Webhook-Resource": "order",
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-ID": "1",
            "X-WC-Webhook-Delivery-ID": secrets.token_hex(16),
            "X-WC-Webhook-Signature": _signature(state.store.webhook_secret or "", body),
        }
        return headers, body


SANDBOX = WooCommerceSandbox()
