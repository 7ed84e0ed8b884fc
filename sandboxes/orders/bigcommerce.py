"""BigCommerce orders in the REST v2 shape, built from the docs' samples: new ones from a spec, status changes.

Orders are kept with their products under the private key `_products` and their shipping addresses under
`_shipping_addresses` (the API serves both at `/v2/orders/{id}/products|shipping_addresses`, never inside the
order).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sandboxes.base import ItemSpec, OrderSpec, SandboxState

SAMPLES = Path(__file__).parent.parent / "samples" / "bigcommerce"
PRIVATE = ("_products", "_shipping_addresses", "_previous_status_id")
STATUSES = {s["id"]: s["name"] for s in json.loads((SAMPLES / "order_statuses_v2.json").read_text())}


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0001")))


def public(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in PRIVATE}


def seeded() -> list[dict[str, Any]]:
    # The docs' product rows belong to an order (149) the docs do not show; they are attached to
    # the listed order so each seeded order is whole.
    orders = sample("orders_list_v2.json")
    for order in orders:
        order["_products"] = [{**row, "order_id": order["id"]} for row in sample("order_products_v2.json")]
    return orders


def new_order(state: SandboxState, spec: OrderSpec) -> dict[str, Any]:
    raw = copy.deepcopy(sample("order_get_v2.json"))
    order_id, now = state.next_id(), state.tick()
    rows = [_row(state, order_id, item) for item in spec.items]
    items = sum((Decimal(row["total_inc_tax"]) for row in rows), Decimal(0))
    total = items + Decimal(raw["shipping_cost_inc_tax"])
    first, _, last = spec.customer_name.partition(" ")
    raw.update(
        id=order_id,
        date_created=rfc2822(now),
        date_modified=rfc2822(now),
        fees=[],
        staff_notes="personalize_test" if spec.test else "",
        items_total=sum(r["quantity"] for r in rows),
        subtotal_ex_tax=money(items),
        subtotal_inc_tax=money(items),
        subtotal_tax="0.0000",
        total_ex_tax=money(total),
        total_inc_tax=money(total),
        total_tax="0.0000",
        discount_amount="0.0000",
        coupon_discount="0.0000",
        _products=rows,
    )
    _status(raw, 11 if spec.paid else 7, "captured" if spec.paid else "pending")
    raw["billing_address"].update(first_name=first, last_name=last, email=spec.customer_email)
    # Shipping addresses are a resource of their own in v2, shaped like the billing address plus ids.
    raw["_shipping_addresses"] = [
        {
            **raw["billing_address"],
            "id": state.next_id(),
            "order_id": order_id,
            "items_total": raw["items_total"],
            "shipping_method": "Flat Rate",
        }
    ]
    base = f"{state.store.base_url or 'https://api.bigcommerce.com/stores/sandbox'}/v2/orders/{order_id}"
    for link, resource in (
        ("products", "products"),
        ("shipping_addresses", "shippingaddresses"),
        ("coupons", "coupons"),
    ):
        raw[link] = {"url": f"{base}/{resource}", "resource": f"/orders/{order_id}/{resource}"}
    return raw


def _row(state: SandboxState, order_id: int, item: ItemSpec) -> dict[str, Any]:
    row = copy.deepcopy(sample("order_products_v2.json")[0])
    row_id, price = state.next_id(), Decimal(item.price)
    options = []
    if item.buyer_text:
        options.append(
            {
                "id": state.next_id(),
                "option_id": 37,
                "order_product_id": row_id,
                "product_option_id": 122,
                "display_name": "Personalization",
                "display_value": item.buyer_text,
                "value": item.buyer_text,
                "type": "Text field",
                "name": "Personalization",
                "display_style": "",
            }
        )
    row.update(
        id=row_id,
        order_id=order_id,
        product_id=int(item.product_id),
        name=item.title,
        name_customer=item.title,
        name_merchant=item.title,
        sku=item.sku or "",
        quantity=item.quantity,
        base_price=money(price),
        price_ex_tax=money(price),
        price_inc_tax=money(price),
        price_tax="0.0000",
        base_total=money(price * item.quantity),
        total_ex_tax=money(price * item.quantity),
        total_inc_tax=money(price * item.quantity),
        total_tax="0.0000",
        discounted_total_inc_tax=money(price * item.quantity),
        applied_discounts=[],
        product_options=options,
        option_set_id=None,
    )
    if item.variant_id:
        row["variant_id"] = int(item.variant_id)
    return row


def set_status(state: SandboxState, raw: dict[str, Any], status: str) -> None:
    raw["_previous_status_id"] = raw["status_id"]
    if status == "paid":
        _status(raw, 11, "captured")
    elif status == "cancelled":
        _status(raw, 5, raw["payment_status"])
    else:
        _status(raw, 4, "refunded")
        raw["refunded_amount"] = raw["total_inc_tax"]
    raw["date_modified"] = rfc2822(state.tick())


def _status(raw: dict[str, Any], status_id: int, payment: str) -> None:
    raw.update(
        status_id=status_id, status=STATUSES[status_id], custom_status=STATUSES[status_id], payment_status=payment
    )
