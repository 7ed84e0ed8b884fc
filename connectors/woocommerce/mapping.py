"""WooCommerce order (REST v3 JSON, also the webhook body) → OrderReceived.

Quirks live here: GMT dates without a zone, line `price` as a number (we use
`subtotal / quantity`, a string), HTML entities in item names, buyer text in
line-item `meta_data` (`meta.py`), no test flag (we read an order meta `personalize_test`).

Paid: WooCommerce sets `date_paid_gmt` when an order is paid (`payment_complete`, or its first move
to a paid status), whatever status a store or a plugin then gives it; stores register statuses of
their own ("shipped", "awaiting-engraving"), and `processing`/`completed` are only the default paid
ones. So an order is paid when `date_paid_gmt` is set or its status is one of those two (an order
marked completed by hand may have no payment date), refunded when its status says so.

Trash: `order.deleted` fires when an order is trashed (`wp_trash_post`, `woocommerce_trash_order`),
and a trashed order reads with status `trash`: cancelled. Restoring it (`order.restored`, with the
whole order) puts back the status it had, so it maps as that status says again: not cancelled, and
paid if it was. What core does with an order it already cancelled is core's: see docs/architecture.md.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from connectors.errors import UnmappableOrderError
from connectors.platform import MappedOrder
from connectors.woocommerce.meta import buyer_text
from plumbing.config import StoreConfig
from schemas import Address, Customer, LineItem, OrderReceived, order_key

PAID_STATUSES = {"processing", "completed"}
CANCELLED_STATUSES = {"cancelled", "trash"}
TRUE = {"1", "yes", "true"}


def map_order(store: StoreConfig, raw: dict) -> MappedOrder:
    try:
        order_id = str(raw["id"])
        order = OrderReceived(
            order_key=order_key("woocommerce", store.store_id, order_id),
            platform="woocommerce",
            store_id=store.store_id,
            platform_order_id=order_id,
            order_number=str(raw.get("number") or order_id),
            placed_at=gmt(raw["date_created_gmt"]),
            payment_status=payment_status(raw),
            cancelled=raw.get("status") in CANCELLED_STATUSES,
            is_test=is_test(raw),
            currency=raw["currency"],
            total=money(raw["total"]),
            customer=customer(raw.get("billing") or {}),
            shipping_address=address(raw.get("shipping") or {}),
            line_items=[line(item, store) for item in raw.get("line_items") or []],
        )
        return MappedOrder(order=order, modified_at=gmt(raw.get("date_modified_gmt") or raw["date_created_gmt"]))
    except (KeyError, TypeError, ValueError, InvalidOperation, ValidationError) as error:
        raise UnmappableOrderError(f"{type(error).__name__}: {error}") from None


def gmt(value: str) -> datetime:
    """`date_*_gmt` fields are UTC without a zone suffix."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def payment_status(raw: dict) -> str:
    if raw.get("status") == "refunded":
        return "refunded"
    if raw.get("date_paid_gmt") or raw.get("status") in PAID_STATUSES:
        return "paid"
    return "unpaid"


def is_test(raw: dict) -> bool:
    return any(
        m.get("key") == "personalize_test" and str(m.get("value")).lower() in TRUE for m in raw.get("meta_data") or []
    )


def money(value: object) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def customer(billing: dict) -> Customer:
    name = " ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p)
    return Customer(name=name, email=billing.get("email") or None)


def address(shipping: dict) -> Address | None:
    if not any(shipping.get(k) for k in ("address_1", "city", "postcode", "country")):
        return None
    return Address(
        name=" ".join(p for p in (shipping.get("first_name"), shipping.get("last_name")) if p),
        line1=shipping.get("address_1") or "",
        line2=shipping.get("address_2") or "",
        city=shipping.get("city") or "",
        region=shipping.get("state") or "",
        postal_code=shipping.get("postcode") or "",
        country=shipping.get("country") or "",
        phone=shipping.get("phone") or "",
    )


def line(item: dict, store: StoreConfig) -> LineItem:
    quantity = int(item["quantity"])
    unit = Decimal(str(item.get("subtotal") or item.get("total") or "0")) / max(quantity, 1)
    variation = item.get("variation_id") or 0
    return LineItem(
        line_id=str(item["id"]),
        product_id=str(item["product_id"]) if item.get("product_id") else None,
        variant_id=str(variation) if variation else None,
        sku=item.get("sku") or None,
        title=html.unescape(item.get("name") or ""),
        quantity=quantity,
        unit_price=str(unit.quantize(Decimal("0.01"))),
        buyer_personalization=buyer_text(item.get("meta_data") or [], store.buyer_text_keys),
    )
