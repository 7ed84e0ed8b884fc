"""Creating a Wix Stores product: Catalog V1, `POST /stores/v1/products` with `{"product": {…}}`.

Source: dev.wix.com/docs/api-reference/business-solutions/stores/skills/create-product-catalog-v1
("Create Product (Catalog V1)"): `name` (required, at most 80 characters), `description` ("an HTML
string in V1"), `productType` `physical`, `priceData.price` (a number), `visible` ("whether the product
is visible to customers"). The answer is `{"product": {…}}` with its `id`, the `catalogItemId` order
lines carry. Auth is the connector's (API key + `wix-site-id`).

Not built: Catalog V3 (dev.wix.com/docs/catalog/introduction: new stores from 2025 get V3, whose create
is `POST /stores/v3/products` with a rich-text description). A V3 store refuses this call, and the
refusal is reported to the merchant as any other.
"""

from __future__ import annotations

from connectors.client import PlatformClient
from connectors.publishing import Created, Listing, created_id
from plumbing.config import StoreConfig

PRODUCTS = "/stores/v1/products"


async def create_product(api: PlatformClient, store: StoreConfig, listing: Listing) -> Created:
    product = {
        "name": listing.title,
        "productType": "physical",
        "priceData": {"price": float(listing.price)},
        "description": listing.html,
        "visible": not listing.draft,
    }
    if sku := listing.option(store, "sku"):
        product["sku"] = sku
    answer, _ = await api.request_json("POST", PRODUCTS, json={"product": product}, idempotent=False)
    visible = (answer.get("product") or {}).get("visible") if isinstance(answer, dict) else None
    return Created(created_id(answer, "product", "id"), draft=visible is False)
