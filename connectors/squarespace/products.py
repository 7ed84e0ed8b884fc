"""Creating a Squarespace product: Products API, `POST /1.0/commerce/products`.

Source: developers.squarespace.com/commerce-apis/create-product: `type` (required; `PHYSICAL`, "the only
supported value"), `storePageId` (required; .../retrieve-all-store-pages lists them), `name` (200
characters), `description` ("long-form product description represented in HTML"), `isVisible`,
`variants` (at least one) each with `sku`, `pricing.basePrice {currency, value}` and `stock`. The answer
is 201 with the Product and its `id`, the `productId` order lines carry. Headers as the connector's
(bearer key, User-Agent).

Decisions:
- The Store Page: an option or the store's `credentials.store_page_id`, else the first enabled page
  `GET /1.0/commerce/store_pages` lists (`{"storePages": [{id, title, isEnabled}], "pagination"}`).
- Squarespace prices each variant in a currency it is told: the draft's `currency`, else the store's
  `credentials.currency`; with neither we ask before calling.
- One variant, stock unlimited (made to order); its SKU is the option `sku`, else `PZ` + 8 hex digits
  (SKUs must be unique among the product's variants, at most 60 characters).
"""

from __future__ import annotations

import secrets

from connectors.client import PlatformClient
from connectors.errors import PlatformError
from connectors.publishing import Created, Listing, created_id
from plumbing.config import StoreConfig

PRODUCTS = "/1.0/commerce/products"
STORE_PAGES = "/1.0/commerce/store_pages"


async def create_product(api: PlatformClient, store: StoreConfig, listing: Listing) -> Created:
    currency = listing.currency or listing.option(store, "currency")
    if not currency:
        raise ValueError("Squarespace needs the price's currency: give --currency (the site's, e.g. USD)")
    variant = {
        "sku": listing.option(store, "sku") or f"PZ{secrets.token_hex(4).upper()}",
        "pricing": {"basePrice": {"currency": currency, "value": f"{listing.price:.2f}"}},
        "stock": {"unlimited": True},
    }
    body = {
        "type": "PHYSICAL",
        "storePageId": listing.option(store, "store_page_id") or await first_store_page(api),
        "name": listing.title,
        "description": listing.html,
        "isVisible": not listing.draft,
        "variants": [variant],
    }
    answer, _ = await api.request_json("POST", PRODUCTS, json=body, idempotent=False)
    visible = answer.get("isVisible") if isinstance(answer, dict) else None
    return Created(created_id(answer, "id"), draft=visible is False)


async def first_store_page(api: PlatformClient) -> str:
    params: dict[str, str] = {}
    while True:
        body, _ = await api.get_json(STORE_PAGES, **params)
        for page in (body or {}).get("storePages") or []:
            if page.get("isEnabled", True) and page.get("id"):
                return str(page["id"])
        cursor = ((body or {}).get("pagination") or {}).get("nextPageCursor")
        if not cursor:
            raise PlatformError("the site has no enabled Store Page to put the product on")
        params = {"cursor": cursor}
