"""BigCommerce order (REST v2 JSON, with its products fetched into `raw["products"]`) → OrderReceived.

Decisions, from the order status table (`GET /v2/order_statuses`):

| status_id | payment_status | cancelled |
|---|---|---|
| 0 Incomplete (checkout not completed), 6 Declined (by the seller) | unpaid | 6 only |
| 1 Pending, 7 Awaiting Payment, 12 Manual Verification Required | unpaid, unless the payment is captured/paid | no |
| 2, 3, 8, 9, 10, 11 (Awaiting Fulfillment and later), 13 Disputed, 14 Partially Refunded | paid | no |
| 4 Refunded | refunded | no |
| 5 Cancelled | from the payment field | yes |

- `payment_status: refunded` (the order's payment field) also reads as refunded.
  `authorized` alone is not paid: the sample order 218 is authorized and still
  Awaiting Payment.
- Declined is the seller's final no (like Cancelled), so it cancels; an order
  archived (`is_deleted`) is gone from the merchant's list and cancels too.
- Dates are RFC-2822 (`Tue, 05 Mar 2019 21:40:11 +0000`); money is a string
  with 4 decimals, rounded to 2. `total` = `total_inc_tax`, a line's
  `unit_price` = `price_inc_tax` (what the buyer paid per unit, as the total is).
- Customer name and email come from `billing_address`. The order only links to
  its shipping addresses; `client.py` fetches them into `shipping_addresses`
  and the first is the one we map (None when there is none: the billing
  address is not where the parcel goes).
- Buyer text: product options of type "Text field" / "Multi-line text field",
  and any option whose name is one of the store's `buyer_text_keys`; never a
  "File Upload" (its value describes a stored file).
- Bundled rows (`parent_order_product_id`) stay lines of their own: they ship.
- No test flag on BigCommerce orders: a merchant marks a test order by writing
  `personalize_test` in its staff notes (as the WooCommerce connector reads an
  order meta of that name).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

from pydantic import ValidationError

from connectors.errors import UnmappableOrderError
from connectors.platform import MappedOrder
from plumbing.config import StoreConfig
from schemas import Address, Customer, LineItem, OrderReceived, order_key

REFUNDED, CANCELLED, DECLINED = 4, 5, 6
PAID_STATUSES = {2, 3, 8, 9, 10, 11, 13, 14}
NEVER_PAID = {0, DECLINED}  # whatever the payment field says, checkout did not go through
CAPTURED = {"captured", "paid"}
TEXT_OPTIONS = {"text field", "multi-line text field"}
FILE_UPLOAD = "file upload"
TEST_MARKER = "personalize_test"


def map_order(store: StoreConfig, raw: dict) -> MappedOrder:
    try:
        order_id = str(raw["id"])
        billing = raw.get("billing_address") or {}
        order = OrderReceived(
            order_key=order_key("bigcommerce", store.store_id, order_id),
            platform="bigcommerce",
            store_id=store.store_id,
            platform_order_id=order_id,
            order_number=order_id,
            placed_at=rfc2822(raw["date_created"]),
            payment_status=payment_status(raw),
            cancelled=cancelled(raw),
            is_test=TEST_MARKER in str(raw.get("staff_notes") or "").lower(),
            currency=raw["currency_code"],
            total=money(raw["total_inc_tax"]),
            customer=Customer(name=full_name(billing), email=billing.get("email") or None),
            shipping_address=shipping_address(raw.get("shipping_addresses")),
            line_items=[line(product, store) for product in products(raw)],
        )
        return MappedOrder(order=order, modified_at=rfc2822(raw.get("date_modified") or raw["date_created"]))
    except (KeyError, TypeError, ValueError, InvalidOperation, ValidationError) as error:
        raise UnmappableOrderError(f"{type(error).__name__}: {error}") from None


def rfc2822(value: str) -> datetime:
    moment = parsedate_to_datetime(value)
    if moment.tzinfo is None:  # "-0000" means UTC with no zone information (RFC 2822 §3.3)
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def status_id(raw: dict) -> int:
    return int(raw["status_id"])


def payment_status(raw: dict) -> str:
    status, payment = status_id(raw), str(raw.get("payment_status") or "").lower()
    if status == REFUNDED or payment == "refunded":
        return "refunded"
    if status in NEVER_PAID:
        return "unpaid"
    return "paid" if status in PAID_STATUSES or payment in CAPTURED else "unpaid"


def cancelled(raw: dict) -> bool:
    return status_id(raw) in (CANCELLED, DECLINED) or bool(raw.get("is_deleted"))


def money(value: object) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def full_name(address: dict) -> str:
    return " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p)


def products(raw: dict) -> list[dict]:
    """The client puts the fetched rows here; the API's own value is a resource link, which we cannot map."""
    rows = raw.get("products")
    if not isinstance(rows, list):
        raise TypeError("products were not fetched (the order has only a resource link)")
    return rows


def shipping_address(embedded: object) -> Address | None:
    if not isinstance(embedded, list) or not embedded or not isinstance(embedded[0], dict):
        return None
    first = embedded[0]
    return Address(
        name=full_name(first),
        line1=first.get("street_1") or "",
        line2=first.get("street_2") or "",
        city=first.get("city") or "",
        region=first.get("state") or "",
        postal_code=first.get("zip") or "",
        country=first.get("country_iso2") or "",
        phone=first.get("phone") or "",
    )


def line(product: dict, store: StoreConfig) -> LineItem:
    variant = product.get("variant_id") or 0
    price = product.get("price_inc_tax")
    return LineItem(
        line_id=str(product["id"]),
        product_id=str(product["product_id"]) if product.get("product_id") else None,
        variant_id=str(variant) if variant else None,
        sku=product.get("sku") or None,
        title=product.get("name") or "",
        quantity=int(product["quantity"]),
        unit_price=money(price if price is not None else product["base_price"]),
        buyer_personalization=buyer_text(product.get("product_options") or [], store.buyer_text_keys),
    )


def buyer_text(options: list[dict], keys: list[str]) -> str | None:
    wanted = {k.lower() for k in keys}
    found = [
        str(option.get("display_value") or option.get("value"))
        for option in options
        if _is_buyer_text(option, wanted) and (option.get("display_value") or option.get("value"))
    ]
    return "\n".join(found) if found else None


def _is_buyer_text(option: dict, wanted: set[str]) -> bool:
    kind = str(option.get("type", "")).lower()
    named = str(option.get("display_name", "")).lower() in wanted or str(option.get("name", "")).lower() in wanted
    return kind != FILE_UPLOAD and (kind in TEXT_OPTIONS or named)
