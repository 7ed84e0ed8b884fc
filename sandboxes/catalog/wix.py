"""Wix Stores products (Catalog V1): `POST /stores/v1/products` with `{"product": {…}}` and `GET …/{id}`.

Rules from the Create Product (Catalog V1) page: `name` required, at most 80 characters; `productType`
`physical` or `digital`; `priceData.price` a number. A violation is 400 with Wix's error body
(`details.validationError.fieldViolations`); success is 200 `{"product": …}` with a GUID `id`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import SandboxState

PRODUCTS = "/stores/v1/products"
NAME_MAX = 80


def _violation(field: str, description: str, rule: str) -> JSONResponse:
    return JSONResponse(
        {
            "message": f"{field}: {description}",
            "details": {
                "validationError": {
                    "fieldViolations": [{"field": field, "description": description, "violatedRule": rule}]
                }
            },
        },
        status_code=400,
    )


def _invalid(product: dict[str, Any]) -> JSONResponse | None:
    name = product.get("name")
    if not isinstance(name, str) or not name:
        return _violation("product.name", "must not be empty", "REQUIRED_FIELD")
    if len(name) > NAME_MAX:
        return _violation("product.name", f"must not be longer than {NAME_MAX}", "MAX_LENGTH")
    if product.get("productType", "physical") not in ("physical", "digital"):
        return _violation("product.productType", "must be one of physical, digital", "INVALID_ENUM_VALUE")
    price = (product.get("priceData") or {}).get("price")
    if price is not None and (not isinstance(price, (int, float)) or isinstance(price, bool) or price < 0):
        return _violation("product.priceData.price", "must be a number not less than 0", "MIN")
    return None


def router(state: SandboxState) -> APIRouter:
    api = APIRouter()

    @api.post(PRODUCTS)
    async def create(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _violation("product", "request body is not valid JSON", "FORMAT")
        product = body.get("product") if isinstance(body, dict) else None
        if not isinstance(product, dict):
            return _violation("product", "must not be empty", "REQUIRED_FIELD")
        if refused := _invalid(product):
            return refused
        made = _product(product)
        state.products[made["id"]] = made
        return JSONResponse({"product": made})

    @api.get(PRODUCTS + "/{product_id}")
    async def read(product_id: str) -> Response:
        product = state.products.get(product_id)
        if product is None:
            return JSONResponse(
                {
                    "message": f"Product {product_id} not found",
                    "details": {"applicationError": {"code": "PRODUCT_NOT_FOUND", "description": "Product not found"}},
                },
                status_code=404,
            )
        return JSONResponse({"product": product})

    return api


def _product(given: dict[str, Any]) -> dict[str, Any]:
    price = Decimal(str((given.get("priceData") or {}).get("price", 0)))
    money = {
        "currency": "USD",
        "price": float(price),
        "discountedPrice": float(price),
        "formatted": {"price": f"${price:.2f}", "discountedPrice": f"${price:.2f}"},
    }
    product_id = str(uuid.uuid4())
    return {
        "id": product_id,
        "name": given["name"],
        "slug": given["name"].lower().replace(" ", "-"),
        "visible": given.get("visible", True),
        "productType": given.get("productType", "physical"),
        "description": given.get("description", ""),
        "sku": given.get("sku", ""),
        "weight": 0,
        "stock": {"trackInventory": False, "inStock": True, "inventoryStatus": "IN_STOCK"},
        "price": money,
        "priceData": money,
        "convertedPriceData": money,
        "ribbon": "",
        "brand": None,
        "productOptions": [],
        "manageVariants": False,
        "customTextFields": [],
        "media": {"items": []},
        "collectionIds": [],
        "lastUpdated": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
