"""Creating a WooCommerce product: `POST /wp-json/wc/v3/products` (REST API v3).

Source: woocommerce/woocommerce-rest-api-docs, `source/includes/wp-api-v3/_products.md`, "Create a
product" and "Product properties": `name`, `type` (`simple` is the default), `status` (`draft`,
`pending`, `private`, `publish`; default `publish`), `regular_price` (a string), `description` (HTML:
the example answer wraps it in `<p>`), `sku` ("unique identifier"). The answer is the product with its
`id`. Auth is the connector's (`client.auth`: Basic over HTTPS, OAuth 1.0a over HTTP).
"""

from __future__ import annotations

from connectors.client import PlatformClient
from connectors.publishing import Created, Listing, created_id
from plumbing.config import StoreConfig

PRODUCTS = "/wp-json/wc/v3/products"


async def create_product(api: PlatformClient, store: StoreConfig, listing: Listing) -> Created:
    body = {
        "name": listing.title,
        "type": "simple",
        "status": "draft" if listing.draft else "publish",
        "regular_price": f"{listing.price:.2f}",
        "description": listing.html,
    }
    if sku := listing.option(store, "sku"):
        body["sku"] = sku
    answer, _ = await api.request_json("POST", PRODUCTS, json=body, idempotent=False)
    status = answer.get("status") if isinstance(answer, dict) else None
    return Created(created_id(answer, "id"), draft=status != "publish")
