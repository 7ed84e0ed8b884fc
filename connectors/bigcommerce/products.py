"""Creating a BigCommerce product: `POST /v3/catalog/products` (base_url is `…/stores/{store_hash}`).

Source: bigcommerce/docs, `reference/catalog/products_catalog.v3.yml`, createProduct: "Required Fields:
name, type, weight, price"; `description` "can include HTML formatting"; `is_visible`; `sku`. The
answer is 200 `{"data": product, "meta": {}}`; 409 for a duplicate name or SKU, 422 for a missing or
invalid field (`{status, title, type, errors}`). Auth is the connector's `X-Auth-Token`.

Decisions: `type` is `physical` (a personalized item ships). `weight` is required but only the
merchant knows it: an option or the store's `credentials.weight`, else 0 (accepted: ">= 0"), with a
note to set the real one before shipping quotes rely on it.
"""

from __future__ import annotations

from connectors.client import PlatformClient
from connectors.publishing import Created, Listing, created_id
from plumbing.config import StoreConfig

PRODUCTS = "/v3/catalog/products"


async def create_product(api: PlatformClient, store: StoreConfig, listing: Listing) -> Created:
    weight = listing.option(store, "weight")
    try:
        pounds_or_kilos = float(weight or 0)  # in the store's weight unit
    except ValueError:
        raise ValueError(f"weight must be a number in the store's unit, not {weight!r}") from None
    body = {
        "name": listing.title,
        "type": "physical",
        "weight": pounds_or_kilos,
        "price": float(listing.price),
        "description": listing.html,
        "is_visible": not listing.draft,
    }
    if sku := listing.option(store, "sku"):
        body["sku"] = sku
    answer, _ = await api.request_json("POST", PRODUCTS, json=body, idempotent=False)
    data = answer.get("data") if isinstance(answer, dict) else None
    notes = () if weight else ("weight was set to 0: set the real weight in BigCommerce for shipping quotes",)
    return Created(created_id(answer, "data", "id"), draft=(data or {}).get("is_visible") is False, notes=notes)
