"""Squarespace products: `GET /1.0/commerce/store_pages`, `POST /1.0/commerce/products`, `GET …/products/{ids}`.

Rules from developers.squarespace.com/commerce-apis/create-product (and create-product-variant for a
variant's fields): `type` must be `PHYSICAL`; `storePageId` must name a Store Page; 1 to 100 variants,
each with a `sku` (at most 60 characters, unique in the product) and `pricing.basePrice` `{currency
(ISO 4217), value (a decimal string, at most 1,000,000)}`; `name` at most 200 characters. Violations are
400 with the documented error object; success is 201 with the Product. The one Store Page is the
store's `credentials.store_page_id`, else the id of the docs' example.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import SandboxState
from sandboxes.squarespace import _error

PRODUCTS = "/1.0/commerce/products"
STORE_PAGES = "/1.0/commerce/store_pages"
EXAMPLE_PAGE = "5d7ba084a63ee8bb410ce0b1"
MONEY = re.compile(r"^\d+(\.\d{1,2})?$")


def _problem(body: Any, page_id: str) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if body.get("type") != "PHYSICAL":
        return "type: PHYSICAL is the only supported value"
    if body.get("storePageId") != page_id:
        return f"storePageId: no Store Page {body.get('storePageId')!r}"
    if len(body.get("name") or "") > 200:
        return "name: 200 characters at most"
    variants = body.get("variants")
    if not isinstance(variants, list) or not 1 <= len(variants) <= 100:
        return "variants: between 1 and 100 are required"
    skus = [v.get("sku") if isinstance(v, dict) else None for v in variants]
    if any(not isinstance(s, str) or not s.strip() or len(s) > 60 for s in skus) or len(set(skus)) != len(skus):
        return "variants[].sku: required, unique, 60 characters at most"
    for variant in variants:
        base = ((variant.get("pricing") or {}).get("basePrice")) or {}
        value, currency = base.get("value"), base.get("currency")
        if not (isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)):
            return "variants[].pricing.basePrice.currency: an ISO 4217 code is required"
        if not (isinstance(value, str) and MONEY.match(value) and Decimal(value) <= 1_000_000):
            return "variants[].pricing.basePrice.value: a monetary amount up to 1,000,000 is required"
    return None


def router(state: SandboxState) -> APIRouter:
    api = APIRouter()
    page_id = state.store.credentials.get("store_page_id") or EXAMPLE_PAGE

    @api.get(STORE_PAGES)
    async def store_pages() -> Response:
        return JSONResponse(
            {
                "storePages": [{"id": page_id, "title": "Shop", "isEnabled": True}],
                "pagination": {"hasNextPage": False, "nextPageCursor": None, "nextPageUrl": None},
            }
        )

    @api.post(PRODUCTS)
    async def create(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "INVALID_REQUEST_BODY", "the body is not valid JSON")
        if problem := _problem(body, page_id):
            return _error(400, "INVALID_ARGUMENT", problem)
        product = _product(body)
        state.products[product["id"]] = product
        return JSONResponse(product, status_code=201)

    @api.get(PRODUCTS + "/{ids}")
    async def read(ids: str) -> Response:
        found = [state.products[i] for i in ids.split(",") if i in state.products]
        if not found:
            return _error(404, "INVALID_ARGUMENT", f"no product {ids}")
        return JSONResponse({"products": found})

    return api


def _product(body: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    product_id, slug = secrets.token_hex(12), (body.get("name") or "product").lower().replace(" ", "-")
    variants = [
        {
            "id": secrets.token_hex(12),
            "sku": v["sku"],
            "pricing": {
                "basePrice": v["pricing"]["basePrice"],
                "onSale": False,
                "salePrice": {"currency": v["pricing"]["basePrice"]["currency"], "value": "0.00"},
            },
            "stock": {
                "quantity": (v.get("stock") or {}).get("quantity", 0),
                "unlimited": bool((v.get("stock") or {}).get("unlimited")),
            },
            "attributes": v.get("attributes") or {},
            "shippingMeasurements": v.get("shippingMeasurements"),
            "image": None,
        }
        for v in body["variants"]
    ]
    return {
        "id": product_id,
        "type": "PHYSICAL",
        "storePageId": body["storePageId"],
        "name": body.get("name", ""),
        "description": body.get("description", ""),
        "url": f"/shop/p/{slug}",
        "urlSlug": slug,
        "tags": body.get("tags") or [],
        "isVisible": bool(body.get("isVisible", False)),
        "variantAttributes": body.get("variantAttributes") or [],
        "variants": variants,
        "images": [],
        "createdOn": now,
        "modifiedOn": now,
    }
