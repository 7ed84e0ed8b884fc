"""Sample orders for `personalize dev` and the benchmarks: one mug to personalize, one plain item."""

from __future__ import annotations

from datetime import UTC, datetime

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
