"""BigCommerce products: `POST /v3/catalog/products` and `GET /v3/catalog/products/{id}`.

Rules from `reference/catalog/products_catalog.v3.yml` (createProduct): `name`, `type`, `weight` and
`price` are required (422 naming the field otherwise), `type` is `physical` or `digital`, a name is at
most 250 characters, and a duplicate name or SKU is 409. Success is 200 `{"data": product, "meta": {}}`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import SandboxState

PRODUCTS = "/v3/catalog/products"
REQUIRED = ("name", "type", "weight", "price")
STATUS_CODES = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"


def _error(status: int, title: str, errors: dict[str, str]) -> JSONResponse:
    return JSONResponse({"status": status, "title": title, "type": STATUS_CODES, "errors": errors}, status_code=status)


def _invalid(body: Any, products: list[dict[str, Any]]) -> JSONResponse | None:
    if not isinstance(body, dict):
        return _error(422, "JSON data is missing or invalid", {"": "error.expected.jsobject"})
    missing = {name: "error.path.missing" for name in REQUIRED if body.get(name) is None}
    if missing:
        return _error(422, "JSON data is missing or invalid", missing)
    if body["type"] not in ("physical", "digital") or not 1 <= len(str(body["name"])) <= 250:
        return _error(422, "JSON data is missing or invalid", {"type": "error.expected.validenumvalue"})
    for field in ("weight", "price"):
        if not isinstance(body[field], (int, float)) or isinstance(body[field], bool) or body[field] < 0:
            return _error(422, "JSON data is missing or invalid", {field: "error.expected.jsnumber"})
    for taken in products:
        if taken["name"] == body["name"] or (body.get("sku") and taken["sku"] == body["sku"]):
            return _error(409, "The product name or SKU is a duplicate", {"name": "duplicate"})
    return None


def router(state: SandboxState) -> APIRouter:
    api = APIRouter()

    @api.post(PRODUCTS)
    async def create(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Input is invalid", {"": "the body is not JSON"})
        if refused := _invalid(body, list(state.products.values())):
            return refused
        product = _product(state.next_id(), body)
        state.products[str(product["id"])] = product
        return JSONResponse({"data": product, "meta": {}})

    @api.get(PRODUCTS + "/{product_id}")
    async def read(product_id: str) -> Response:
        product = state.products.get(product_id)
        if product is None:
            return _error(404, "The requested product was not found.", {})
        return JSONResponse({"data": product, "meta": {}})

    return api


def _product(product_id: int, body: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "id": product_id,
        "name": body["name"],
        "type": body["type"],
        "sku": body.get("sku", ""),
        "description": body.get("description", ""),
        "weight": body["weight"],
        "width": 0,
        "depth": 0,
        "height": 0,
        "price": body["price"],
        "cost_price": 0,
        "retail_price": 0,
        "sale_price": 0,
        "map_price": 0,
        "calculated_price": body["price"],
        "categories": body.get("categories", []),
        "brand_id": 0,
        "inventory_level": 0,
        "inventory_tracking": "none",
        "is_free_shipping": False,
        "is_visible": body.get("is_visible", True),
        "is_featured": False,
        "availability": "available",
        "condition": "New",
        "date_created": now,
        "date_modified": now,
        "base_variant_id": product_id + 1,
        "custom_url": {"url": f"/product-{product_id}/", "is_customized": False},
    }
