"""WooCommerce sandbox: REST v3 orders (list with modified_after/orderby/page, `any` without the trash, one order,
DELETE to the trash), Basic, query-string or OAuth 1.0a auth with the store's API keys (`woocommerce_auth.py`:
the `/wc-auth/v1/authorize` key delivery, keys that can be revoked), the webhooks REST API with its creation ping,
deliveries signed with each webhook's own secret and webhooks disabled after repeated failures
(`woocommerce_hooks.py`), and `order.created`/`updated`/`restored` webhooks carrying the full order (`deleted` only
its id), signed with X-WC-Webhook-Signature. Line meta carries `display_value` as WooCommerce formats it
(`orders/woocommerce.py`). `GET /wp-json/` is WordPress's public index (the site's name and home).

The store's YAML credentials are its first API key (read_write); `/_sandbox/webhooks` still sends every order
event to one URL signed with the YAML `webhook_secret`, as before, besides the registered webhooks."""

from __future__ import annotations

import copy
import json
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import ItemSpec, OrderSpec, PlatformSandbox, SandboxState
from sandboxes.orders import woocommerce as orders
from sandboxes.orders.woocommerce import meta_entry
from sandboxes.woocommerce_auth import AUTH_PATH, GRANTED_PATH, WooKeys, auth_router, refusal
from sandboxes.woocommerce_hooks import AGENT, WEBHOOKS, WooHooks, hooks_router, payload, signature

__all__ = ["AUTH_PATH", "ORDERS", "SANDBOX", "WEBHOOKS", "WooCommerceSandbox"]

SAMPLES = Path(__file__).parent / "samples" / "woocommerce"
ORDERS = "/wp-json/wc/v3/orders"
INDEX = "/wp-json/"


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int | str:
    """One delivery as `wp_safe_remote_post` makes it: no redirects followed; the status, or why none came."""
    try:
        async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
            return (await client.post(url, content=body, headers=headers)).status_code
    except httpx.HTTPError as error:
        return type(error).__name__


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
        meta = [meta_entry(state.next_id(), "Personalization", item.buyer_text)] if item.buyer_text else []
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

    def trash(self, state: SandboxState, raw: dict[str, Any]) -> None:
        orders.trash(raw, _gmt(state.tick()))

    def restore(self, state: SandboxState, raw: dict[str, Any]) -> None:
        orders.restore(raw, _gmt(state.tick()))

    public_paths = frozenset({AUTH_PATH, GRANTED_PATH, INDEX})

    def keys(self, state: SandboxState) -> WooKeys:
        """The store's API keys: its YAML credentials are the first (read_write)."""
        own = vars(state)  # SandboxState is every platform's; these two tables are WooCommerce's alone
        if "woocommerce_keys" not in own:
            own["woocommerce_keys"] = WooKeys(post=_post)
            credentials = state.store.credentials
            if credentials.get("consumer_key"):
                own["woocommerce_keys"].add(
                    credentials["consumer_key"], credentials.get("consumer_secret", ""), "read_write", "YAML"
                )
        return own["woocommerce_keys"]

    def hooks(self, state: SandboxState) -> WooHooks:
        """The webhooks registered through the store's REST API."""
        return vars(state).setdefault("woocommerce_hooks", WooHooks(post=_post))

    def authorized(self, state: SandboxState, request: Request) -> bool:
        return self.refusal(state, request) is None

    def refusal(self, state: SandboxState, request: Request) -> Response | None:
        """WooCommerce's `WC_REST_Authentication` (`woocommerce_auth.refusal`). A store whose credentials say
        `auth: query_string` sits on a host that strips `Authorization`."""
        strips_authorization = state.store.credentials.get("auth") == "query_string"
        return refusal(self.keys(state), request, strips_authorization)

    def controls(self, state: SandboxState) -> APIRouter:
        router = APIRouter()
        router.include_router(auth_router(self.keys(state)))
        router.include_router(hooks_router(self.hooks(state)))

        @router.get(INDEX)
        async def index() -> dict[str, Any]:
            """WordPress's REST index, public: the site's name and addresses (what a connect flow shows)."""
            home = state.store.base_url or "https://example.com"
            return {"name": f"Sandbox shop {state.store.store_id}", "description": "", "url": home, "home": home}

        return router

    async def announce_registered(self, state: SandboxState, raw: dict[str, Any], event: str) -> None:
        await self.hooks(state).deliver(raw["id"], event, payload(raw, event))

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
            if q.get("status", "any") == "any":  # `any` is every status but trash (the v2 controller)
                orders = [o for o in orders if o["status"] != "trash"]
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

        @router.delete(ORDERS + "/{order_id}")
        async def delete_order(order_id: str) -> Response:
            """Without `force=true`, orders go to the trash (and `order.deleted` fires)."""
            raw = state.orders.get(order_id)
            if raw is None:
                return JSONResponse({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."}, 404)
            self.trash(state, raw)
            await self._announce(state, raw, "deleted")
            return JSONResponse(raw)

        @router.post("/_sandbox/orders/{order_id}/restore")
        async def restore_order(order_id: str) -> Response:
            """wp-admin's Restore (no REST call exists): the order leaves the trash, `order.restored` fires."""
            raw = state.orders.get(order_id)
            if raw is None:
                return JSONResponse({"message": "no such order"}, 404)
            self.restore(state, raw)
            await self._announce(state, raw, "restored")
            return JSONResponse(raw)

        return router

    async def _announce(self, state: SandboxState, raw: dict[str, Any], event: str) -> None:
        if not state.webhooks.enabled:
            return
        await self.announce_registered(state, raw, event)
        if not state.webhooks.url:
            return
        headers, body = self.webhook(state, raw, event, thin=False)
        answer = await _post(state.webhooks.url, body, headers)
        state.deliveries.append({"order_id": str(raw["id"]), "event": event, "statuses": [answer]})

    def webhook(self, state: SandboxState, raw: dict[str, Any], event: str, thin: bool) -> tuple[dict[str, str], bytes]:
        """`build_payload`: the REST order, or only `{"id"}` for `deleted` (the order is in the trash)."""
        return self.sign_raw(state, payload(raw, event), event)

    def sign_raw(self, state: SandboxState, body: bytes, event: str) -> tuple[dict[str, str], bytes]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": AGENT,
            "X-WC-Webhook-Source": "https://example.com/",
            "X-WC-Webhook-Topic": f"order.{event}",
            "X-WC-Webhook-Resource": "order",
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-ID": "1",
            "X-WC-Webhook-Delivery-ID": secrets.token_hex(16),
            "X-WC-Webhook-Signature": signature(state.store.webhook_secret or "", body),
        }
        return headers, body


SANDBOX = WooCommerceSandbox()
