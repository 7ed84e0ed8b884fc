"""WooCommerce products: `POST /wp-json/wc/v3/products` (201 and the product) and `GET …/products/{id}`.

As the REST API v3 docs (`_products.md`) and WordPress's REST server answer: an unknown `status` or
`type`, or a `regular_price` that is not a decimal string, is `400 rest_invalid_param` naming the
parameter; a duplicate SKU is `400 product_invalid_sku`; errors are `{code, message, data: {status}}`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import SandboxState

PRODUCTS = "/wp-json/wc/v3/products"
ENUMS = {"status": ("draft", "pending", "private", "publish"), "type": ("simple", "grouped", "external", "variable")}
DECIMAL = re.compile(r"^\d+(\.\d+)?$")


def _error(code: str, message: str, status: int = 400, **data: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": {"status": status, **data}}, status_code=status)


def _invalid(body: dict[str, Any]) -> JSONResponse | None:
    for name, allowed in ENUMS.items():
        if name in body and body[name] not in allowed:
            return _error(
                "rest_invalid_param",
                f"Invalid parameter(s): {name}",
                params={name: f"{name} is not one of {', '.join(allowed)}."},
            )
    price = body.get("regular_price", "")
    if not isinstance(price, str) or (price and not DECIMAL.match(price)):
        return _error(
            "rest_invalid_param",
            "Invalid parameter(s): regular_price",
            params={"regular_price": "regular_price is not of type string."},
        )
    return None


def _wpautop(text: str) -> str:
    return text if text.lstrip().startswith("<") else f"<p>{text}</p>\n"


def router(state: SandboxState) -> APIRouter:
    api = APIRouter()

    @api.post(PRODUCTS)
    async def create(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error("rest_invalid_json", "Invalid JSON body passed.")
        if not isinstance(body, dict):
            return _error("rest_invalid_json", "Invalid JSON body passed.")
        if refused := _invalid(body):
            return refused
        sku = body.get("sku") or ""
        if sku and any(p["sku"] == sku for p in state.products.values()):
            return _error("product_invalid_sku", "Invalid or duplicated SKU.")
        product_id, now = state.next_id(), datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        price = body.get("regular_price", "")
        product = {
            "id": product_id,
            "name": body.get("name", ""),
            "slug": f"product-{product_id}",
            "permalink": f"https://example.com/?post_type=product&p={product_id}",
            "date_created": now,
            "date_created_gmt": now,
            "date_modified": now,
            "date_modified_gmt": now,
            "type": body.get("type", "simple"),
            "status": body.get("status", "publish"),
            "featured": False,
            "catalog_visibility": "visible",
            "description": _wpautop(body.get("description", "")),
            "short_description": "",
            "sku": sku,
            "price": price,
            "regular_price": price,
            "sale_price": "",
            "purchasable": bool(price),
            "meta_data": [],
            "_links": {"self": [{"href": f"https://example.com{PRODUCTS}/{product_id}"}]},
        }
        state.products[str(product_id)] = product
        return JSONResponse(product, status_code=201)

    @api.get(PRODUCTS + "/{product_id}")
    async def read(product_id: str) -> Response:
        product = state.products.get(product_id)
        if product is None:
            return _error("woocommerce_rest_product_invalid_id", "Invalid ID.", status=404)
        return JSONResponse(product)

    return api
