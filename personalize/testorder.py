"""The seed's "How can I test": a paid test order with a personalizable product.

A sandbox store (its `base_url` answers `GET /_sandbox/orders`) gets the order placed through the
sandbox's control, paid and marked test the platform's way; the order is then read back through the
platform's API and mapped as the connector maps it, so what we report as "marked test" is what core
will see. A real store gets the platform's steps (`STEPS`), since none of the five lets an API client
place a paid order for a merchant.

Which platforms can mark a test order (the connectors' `mapping.py` decide, `is_test`):
- WooCommerce: no flag of its own; the order meta `personalize_test` = `yes` marks one.
- Squarespace: `testmode: true`, set on orders placed while the site's payments are in test mode.
- BigCommerce: no flag of its own; `personalize_test` in the order's staff notes marks one.
- Etsy, Wix: no test orders at all; a test order flows as a real one (stop it with manual approval,
  then cancel it on the platform).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import httpx

from connectors.client import RateLimitedError, RetryableError
from connectors.errors import PlatformError, UnmappableOrderError
from connectors.main import client_for
from connectors.registry import adapter_for
from core.directory import Directory
from plumbing.config import ProductMatch, StoreConfig
from schemas import order_key

CAN_MARK_TEST = {
    "woocommerce": "the order meta personalize_test=yes",
    "squarespace": "testmode: true",
    "bigcommerce": "personalize_test in the staff notes",
}
STEPS = {
    "woocommerce": [
        'WooCommerce › Settings › Payments: enable "Cash on delivery" (its orders start as Processing, which '
        "reads as paid), or put your card gateway in its test/sandbox mode.",
        "Create the order in WooCommerce › Orders › Add order with the product (set the product to Private "
        "if the draft is not offered), status Processing; or buy it on the storefront once it is published.",
        "Mark it as a test: in the order's Custom Fields box add personalize_test = yes (WooCommerce has no "
        "test flag of its own; the connector reads this meta). Without it the order is handled as real.",
    ],
    "etsy": [
        "Etsy has no test mode or sandbox (etsy/open-api#434 asks for one) and a shop cannot buy from "
        "itself: add an image to the draft listing, activate it, and buy it from a second Etsy account.",
        "Etsy orders carry no test flag, so this one is handled as a real order: keep the store's approval "
        "manual so it stops at pending_approval once personalized.",
        "Afterwards cancel the order in Shop Manager › Orders (Etsy refunds it); the connector then "
        "cancels it here too.",
    ],
    "wix": [
        "Settings › Accept payments: connect Manual Payments (an offline method), and make the product "
        "visible for the test.",
        "Buy the product on the live site choosing the manual payment, then open the order in the "
        "dashboard's Orders and mark it as Paid.",
        "Wix orders carry no test flag, so it is handled as a real order: keep the store's approval manual, "
        "and cancel the order in Wix afterwards (the connector then cancels it here too).",
    ],
    "squarespace": [
        "Turn on test mode for payments (Squarespace Payments or Stripe); make the product visible for the test.",
        "Buy the product with the test card 4242 4242 4242 4242, any future expiry date and any CVC.",
        "The order arrives with testmode: true, which the connector reads as a test order. Turn test mode "
        "off afterwards: while it is on, real buyers cannot pay.",
    ],
    "bigcommerce": [
        'Orders › Add: create a manual order for the product, payment "Manual payment" (needs the '
        "Finalize Manual Orders using Manual Payments permission).",
        "Mark it as a test: write personalize_test in the order's staff notes (BigCommerce has no test "
        "flag of its own; the connector reads this). Set its status to Awaiting Fulfillment (paid).",
    ],
}


class TestOrderError(RuntimeError):
    """No test order can be placed as asked; the message says why."""

    __test__ = False  # a name pytest would otherwise try to collect


@dataclass(frozen=True)
class PlacedOrder:
    order_id: str
    order_key: str
    product: ProductMatch
    is_test: bool


async def is_sandbox(store: StoreConfig, http: httpx.AsyncClient) -> bool:
    if not store.base_url:
        return False
    try:
        answer = await http.get(f"{store.base_url}/_sandbox/orders")
        return answer.status_code == 200 and "ids" in answer.json()
    except (httpx.HTTPError, ValueError):
        return False


def choose_product(store: StoreConfig, catalog: list[ProductMatch], product_id: str | None) -> ProductMatch:
    if product_id is None:
        if not catalog:
            raise TestOrderError(f"{store.key} has no personalizable product yet: run publish-product first")
        return catalog[0]
    for entry in catalog:
        if product_id in (entry.product_id, entry.variant_id, entry.sku):
            return entry
    raise TestOrderError(
        f"{product_id!r} is not in the catalog of {store.key}; a test order of a product that "
        f"needs no personalization would skip the editor"
    )


async def place_test_order(
    store: StoreConfig, directory: Directory, product_id: str | None = None, http: httpx.AsyncClient | None = None
) -> PlacedOrder:
    """Place a paid test order on the store's sandbox and read it back as the connector will."""
    record = await directory.store(store.platform, store.store_id)
    entry = choose_product(store, record.products, product_id)
    templates = await directory.templates(store.key)
    item = {
        "title": templates[entry.template].title,
        "price": "24.50",
        **{k: v for k, v in entry.model_dump(include={"product_id", "variant_id", "sku"}).items() if v},
    }
    spec = {
        "items": [item],
        "test": True,
        "paid": True,
        "customer_name": "Test Buyer",
        "customer_email": record.settings.merchant_email,
    }  # whoever gets links, this one comes back to the merchant
    async with httpx.AsyncClient(timeout=10) if http is None else nullcontext(http) as client:
        if not await is_sandbox(store, client):
            raise TestOrderError(f"{store.key} is not a sandbox store: place the test order on the platform")
        placed = await client.post(f"{store.base_url}/_sandbox/orders", json=spec)
        if placed.status_code != 200:
            raise TestOrderError(f"the sandbox refused the order: {placed.status_code} {placed.text[:200]}")
    order_id = str(placed.json()["id"])
    adapter = adapter_for(store.platform)
    api = client_for(adapter, store)
    try:
        mapped = adapter.map_order(store, await adapter.fetch_order(api, store, order_id))
    except (PlatformError, RetryableError, RateLimitedError, UnmappableOrderError) as error:
        raise TestOrderError(
            f"order {order_id} was placed but cannot be read back as the connector will: {error}"
        ) from None
    finally:
        await api.aclose()
    return PlacedOrder(order_id, order_key(store.platform, store.store_id, order_id), entry, mapped.order.is_test)
