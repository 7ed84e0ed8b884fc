"""`/stores/{store}`: the settings a merchant changes at run time, and the catalog of personalizable products.

Core reads both once per batch, so a change applies to the next events it
handles; orders already waiting keep what they were decided with.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import ValidationError

from connectors.publishing import ProductDraft, PublishedProduct, PublishError, publish_product
from core.directory import DirectoryError, UnknownTemplate
from merchant_api import email_confirm
from merchant_api.deps import ApiDep, StoreDep
from merchant_api.views import Problem
from plumbing.config import ProductMatch, StoreSettings

router = APIRouter(
    prefix="/stores/{store}",
    tags=["stores"],
    responses={404: {"model": Problem, "description": "No such store for this key."}},
)


@router.get("/settings")
async def get_settings(store: StoreDep, api: ApiDep) -> StoreSettings:
    """The store's run-time settings: approval, link delivery, branding, reminders, mixed orders."""
    return (await api.directory.store(store.platform, store.store_id)).settings


@router.put(
    "/settings",
    responses={
        202: {
            "model": StoreSettings,
            "description": "Saved, but a new `merchant_email` or `reply_to` waits until someone at that address "
            "opens the link mailed to it (24 h); the answer shows the addresses still in effect.",
        }
    },
)
async def put_settings(settings: StoreSettings, store: StoreDep, api: ApiDep, response: Response) -> StoreSettings:
    """Replace the settings (send them all: what is left out takes its default); a new address applies once confirmed."""
    saved, waiting = await email_confirm.put_settings(api, store, settings)
    if waiting:
        response.status_code = 202
    return saved


@router.get("/products")
async def get_products(store: StoreDep, api: ApiDep) -> list[ProductMatch]:
    """The products sold as personalizable; a line matches on any key given."""
    return (await api.directory.store(store.platform, store.store_id)).products


@router.put("/products", responses={409: {"model": Problem, "description": "The template is unknown to this store."}})
async def put_product(product: ProductMatch, store: StoreDep, api: ApiDep) -> list[ProductMatch]:
    """Add a product, or replace the one with the same product_id, variant_id and sku; answers the catalog."""
    try:
        return (await api.directory.put_product(store.platform, store.store_id, product)).products
    except UnknownTemplate as error:
        raise HTTPException(409, str(error)) from None


@router.delete("/products")
async def delete_product(
    store: StoreDep,
    api: ApiDep,
    product_id: Annotated[str | None, Query()] = None,
    variant_id: Annotated[str | None, Query()] = None,
    sku: Annotated[str | None, Query()] = None,
) -> list[ProductMatch]:
    """Remove the product with exactly these keys (those not given must be absent on it too); answers the catalog."""
    try:
        keys = ProductMatch(product_id=product_id, variant_id=variant_id, sku=sku, template="-")
    except ValidationError:
        raise HTTPException(400, "give at least one of product_id, variant_id, sku") from None
    try:
        return (await api.directory.delete_product(store.platform, store.store_id, keys)).products
    except DirectoryError as error:
        raise HTTPException(404, str(error)) from None


@router.post(
    "/products/publish",
    status_code=201,
    responses={
        409: {
            "model": Problem,
            "description": "The template is unknown to this store, or the store has no platform "
            "connection (base_url) configured.",
        },
        502: {
            "model": Problem,
            "description": "The platform refused the product or did not answer; nothing was "
            "registered (the detail says whether to check the store for a product before trying again).",
        },
    },
)
async def publish(draft: ProductDraft, store: StoreDep, api: ApiDep) -> PublishedProduct:
    """Create the product on the platform (hidden when `draft`), with the notice telling buyers a personalization
    link follows the order, then add it to the catalog: the seed's step 1, as `personalize publish-product`."""
    if not store.base_url:
        raise HTTPException(409, f"store {store.key} has no platform connection (base_url) in the config")
    try:
        return await publish_product(store, api.directory, draft)
    except UnknownTemplate as error:
        raise HTTPException(409, str(error)) from None
    except PublishError as error:
        raise HTTPException(502, str(error)) from None
