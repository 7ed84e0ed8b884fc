"""Etsy listings: createDraftListing (`POST /v3/application/shops/{shop_id}/listings`, a form) and getListing.

Field rules from Etsy's OAS 3.0.0 (createDraftListing): the seven required fields, a positive
`quantity` and `price`, the `who_made` / `when_made` / `type` enums, and `shipping_profile_id` for a
physical listing. Errors are `{"error": "…"}` with 400 (Etsy's error shape); the answer is 201 with the
ShopListing in state `draft`, its price as Money in the shop's currency (USD here).
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.base import SandboxState
from sandboxes.etsy import SHOPS

LISTING = "/v3/application/listings/{listing_id}"
REQUIRED = ("quantity", "title", "description", "price", "who_made", "when_made", "taxonomy_id")
WHO_MADE = {"i_did", "someone_else", "collective"}
WHEN_MADE = {
    "made_to_order",
    "2020_2025",
    "2010_2019",
    "2006_2009",
    "before_2006",
    "2000_2005",
    "1990s",
    "1980s",
    "1970s",
    "1960s",
    "1950s",
    "1940s",
    "1930s",
    "1920s",
    "1910s",
    "1900s",
    "1800s",
    "1700s",
    "before_1700",
}
TYPES = {"physical", "download", "both"}


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _problem(form: dict[str, str]) -> str | None:
    missing = [name for name in REQUIRED if not form.get(name)]
    if missing:
        return f"Missing required parameter(s): {', '.join(missing)}"
    try:
        if int(form["quantity"]) < 1 or Decimal(form["price"]) <= 0:
            return "quantity and price must be positive"
        int(form["taxonomy_id"])
    except (ValueError, InvalidOperation):
        return "quantity, price and taxonomy_id must be numbers"
    if form["who_made"] not in WHO_MADE or form["when_made"] not in WHEN_MADE:
        return "Invalid value for who_made or when_made"
    kind = form.get("type", "physical")
    if kind not in TYPES:
        return f"Invalid value for type: {kind}"
    if kind != "download" and not form.get("shipping_profile_id"):
        return "shipping_profile_id is required for a physical listing"
    return None


def router(state: SandboxState) -> APIRouter:
    api = APIRouter()
    shop_id = state.store.credentials.get("shop_id", "")

    @api.post(SHOPS + "/{shop}/listings")
    async def create(shop: str, request: Request) -> Response:
        if shop != shop_id:
            return _error(f"Shop {shop} not found", 404)
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _error("Expected an application/x-www-form-urlencoded body")
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if problem := _problem(form):
            return _error(problem)
        listing = _listing(state.next_id(), int(shop), form)
        state.products[str(listing["listing_id"])] = listing
        return JSONResponse(listing, status_code=201)

    @api.get(LISTING)
    async def read(listing_id: str) -> Response:
        listing = state.products.get(listing_id)
        return JSONResponse(listing) if listing else _error(f"Listing {listing_id} not found", 404)

    return api


def _listing(listing_id: int, shop_id: int, form: dict[str, str]) -> dict[str, Any]:
    now, price = int(time.time()), Decimal(form["price"])

    def number(name: str) -> int | None:
        return int(form[name]) if form.get(name) else None

    return {
        "listing_id": listing_id,
        "user_id": 87654321,
        "shop_id": shop_id,
        "title": form["title"],
        "description": form["description"],
        "state": "draft",
        "creation_timestamp": now,
        "created_timestamp": now,
        "ending_timestamp": now + 120 * 86400,
        "original_creation_timestamp": now,
        "last_modified_timestamp": now,
        "updated_timestamp": now,
        "state_timestamp": now,
        "quantity": int(form["quantity"]),
        "shop_section_id": None,
        "featured_rank": -1,
        "url": f"https://www.etsy.com/listing/{listing_id}/draft",
        "num_favorers": 0,
        "non_taxable": False,
        "is_taxable": True,
        "is_customizable": False,
        "is_personalizable": False,
        "listing_type": form.get("type", "physical"),
        "tags": [],
        "materials": [],
        "shipping_profile_id": number("shipping_profile_id"),
        "return_policy_id": number("return_policy_id"),
        "processing_min": None,
        "processing_max": None,
        "who_made": form["who_made"],
        "when_made": form["when_made"],
        "is_supply": form.get("is_supply", "false") == "true",
        "taxonomy_id": int(form["taxonomy_id"]),
        "readiness_state_id": number("readiness_state_id"),
        "has_variations": False,
        "language": "en-US",
        "price": {"amount": int(price * 100), "divisor": 100, "currency_code": "USD"},
    }
