"""Sample orders: for the benchmarks (one mug to personalize, one plain item), and dev's first order on each sandbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from plumbing.config import StoreConfig
from schemas import Address, Customer, LineItem, OrderReceived, order_key


def sample_order(
    number: int,
    *,
    store_id: str = "demo-woo",
    platform: str = "woocommerce",
    personalized: bool = True,
    payment_status: str = "paid",
) -> OrderReceived:
    lines = [
        LineItem(
            line_id=f"{number}-2",
            product_id="7",
            sku="TOTE-PLAIN",
            title="Plain tote bag",
            quantity=1,
            unit_price="9.00",
        )
    ]
    if personalized:
        lines.insert(
            0,
            LineItem(
                line_id=f"{number}-1",
                product_id="93",
                sku="MUG-NAME",
                title="Name mug",
                quantity=2,
                unit_price="14.50",
                buyer_personalization="Ada",
            ),
        )
    total = sum(float(line.unit_price) * line.quantity for line in lines)
    return OrderReceived(
        order_key=order_key(platform, store_id, str(number)),
        platform=platform,
        store_id=store_id,
        platform_order_id=str(number),
        order_number=str(number),
        placed_at=datetime.now(UTC),
        payment_status=payment_status,
        currency="EUR",
        total=f"{total:.2f}",
        customer=Customer(name="Ada Lovelace", email="ada@example.com"),
        shipping_address=Address(
            name="Ada Lovelace", line1="12 St James's Square", city="London", postal_code="SW1Y 4JH", country="GB"
        ),
        line_items=lines,
    )


async def place_demo_orders(stores: list[StoreConfig]) -> None:
    """One order on each sandbox store, once it takes orders."""
    async with httpx.AsyncClient(timeout=5) as http:
        for store in stores:
            product = store.products[0] if store.products else None
            item = {
                "product_id": (product.product_id if product and product.product_id else "93"),
                "sku": product.sku if product else None,
                "quantity": 1,
                "buyer_text": "Ada",
            }
            for _ in range(60):  # the sandbox and its connector are still starting
                try:
                    placed = await http.post(f"{store.base_url}/_sandbox/orders", json={"items": [item]})
                    placed.raise_for_status()
                    print(f"dev: placed order {placed.json()['id']} on the {store.platform} sandbox", flush=True)
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.5)
            else:
                raise RuntimeError(f"the {store.platform} sandbox at {store.base_url} took no order in 30 s")
