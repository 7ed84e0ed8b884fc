"""Squarespace order (Commerce API, Orders 1.0 JSON) → OrderReceived.

Where the fields come from:
- developers.squarespace.com/commerce-apis/retrieve-specific-order: `id`, `orderNumber` (a string there),
  `createdOn`/`modifiedOn` (ISO 8601 UTC with milliseconds), `testmode`, `customerEmail`, `billingAddress`.
  Our stored copy of that page stops inside `billingAddress`; the rest of the documented example (same
  values, same comments) is the one copied in the public repo zrheaume/JHI-WebOrder-Mock, and a real
  order in Pixel-Meister/SquarespaceShipstationFixer has the same shape: `shippingAddress`,
  `fulfillmentStatus` (PENDING/FULFILLED/CANCELED), `lineItems[]` {id, variantId, sku, productId,
  productName, quantity, unitPricePaid {value, currency}, variantOptions [{optionName, value}],
  customizations [{label, value}], lineItemType}, and top-level money objects `subtotal`,
  `shippingTotal`, `discountTotal`, `taxTotal`, `refundedTotal`, `grandTotal`. (A third-party schema
  nests them under `totals`; both sources above contradict it, so we read the top level.)
- .../commerce-apis/responses-error-handling: every documented field is present but may be null, and an
  empty array may be null or `[]`: every read here tolerates both.

Decisions where the docs are silent:
- Payment: there is no payment field. An order exists only once checkout has taken the payment (the
  Orders panel shows Paid, Refunded or Partial Refund), so every order is `paid`, except `refunded` when
  `refundedTotal` is above zero and covers `grandTotal`; a partial refund stays `paid` (core would
  otherwise cancel an order the merchant still ships).
- Cancelled = `fulfillmentStatus` CANCELED. Test = `testmode`.
- Money keeps the currency's own precision (the docs: JPY "123", USD "123.00"), checked as a decimal.
- Buyer text: `customizations` are the answers to a product's custom form. Those whose label is one of
  the store's `buyer_text_keys` (case-insensitive) give their values; when none match, every answer is
  taken as "label: value", one a line, because the form exists to personalize and its labels are the
  merchant's own words. Lines with no answers have none.
- Title: `productName` plus the chosen `variantOptions` ("Mug (Color: White)"): the name alone does not
  say which variant to make.
- Customer name: billing name, else shipping name (real orders can carry an empty billing name).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from connectors.errors import UnmappableOrderError
from connectors.platform import MappedOrder
from plumbing.config import StoreConfig
from schemas import Address, Customer, LineItem, OrderReceived, order_key


def map_order(store: StoreConfig, raw: dict) -> MappedOrder:
    try:
        order_id = str(raw["id"])
        placed_at = iso(raw["createdOn"])
        currency, total = money(raw["grandTotal"])
        order = OrderReceived(
            order_key=order_key("squarespace", store.store_id, order_id),
            platform="squarespace",
            store_id=store.store_id,
            platform_order_id=order_id,
            order_number=str(raw.get("orderNumber") or order_id),
            placed_at=placed_at,
            payment_status=payment_status(raw),
            cancelled=raw.get("fulfillmentStatus") == "CANCELED",
            is_test=bool(raw.get("testmode")),
            currency=currency,
            total=total,
            customer=customer(raw),
            shipping_address=address(raw.get("shippingAddress") or {}),
            line_items=[line(item, store) for item in raw.get("lineItems") or []],
        )
        return MappedOrder(order=order, modified_at=iso(raw.get("modifiedOn") or raw["createdOn"]))
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation, ValidationError) as error:
        raise UnmappableOrderError(f"{type(error).__name__}: {error}") from None


def iso(value: str) -> datetime:
    """ISO 8601 UTC, `Z` suffix and milliseconds (`2016-12-23T15:58:07.187Z`)."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def money(amount: dict) -> tuple[str, str]:
    """A money object `{value, currency}` → (currency, decimal string)."""
    value = Decimal(str(amount["value"]))
    if not value.is_finite():
        raise ValueError(f"money value {amount['value']!r} is not a number")
    return str(amount["currency"]), format(value, "f")


def payment_status(raw: dict) -> str:
    refunded = Decimal(str((raw.get("refundedTotal") or {}).get("value") or "0"))
    grand = Decimal(str(raw["grandTotal"]["value"]))
    return "refunded" if refunded > 0 and refunded >= grand else "paid"


def _name(address: dict) -> str:
    return " ".join(p.strip() for p in (address.get("firstName"), address.get("lastName")) if p and p.strip())


def customer(raw: dict) -> Customer:
    name = _name(raw.get("billingAddress") or {}) or _name(raw.get("shippingAddress") or {})
    return Customer(name=name, email=raw.get("customerEmail") or None)


def address(shipping: dict) -> Address | None:
    if not any(shipping.get(k) for k in ("address1", "city", "postalCode", "countryCode")):
        return None  # digital and service orders have no shipping address
    return Address(
        name=_name(shipping),
        line1=shipping.get("address1") or "",
        line2=shipping.get("address2") or "",
        city=shipping.get("city") or "",
        region=shipping.get("state") or "",
        postal_code=shipping.get("postalCode") or "",
        country=shipping.get("countryCode") or "",
        phone=shipping.get("phone") or "",
    )


def line(item: dict, store: StoreConfig) -> LineItem:
    _, unit_price = money(item["unitPricePaid"])
    return LineItem(
        line_id=str(item["id"]),
        product_id=_text(item.get("productId")),
        variant_id=_text(item.get("variantId")),  # null for orders before May 28, 2019 and for digital products
        sku=_text(item.get("sku")),
        title=title(item),
        quantity=int(item["quantity"]),
        unit_price=unit_price,
        buyer_personalization=buyer_text(item.get("customizations") or [], store.buyer_text_keys),
    )


def _text(value: object) -> str | None:
    return str(value) if value else None


def title(item: dict) -> str:
    options = [f"{o.get('optionName')}: {o.get('value')}" for o in item.get("variantOptions") or [] if o.get("value")]
    name = item.get("productName") or ""
    return f"{name} ({', '.join(options)})" if options else name


def buyer_text(customizations: list[dict], keys: list[str]) -> str | None:
    answers = [(str(c.get("label") or ""), str(c["value"])) for c in customizations if c.get("value")]
    wanted = {k.lower() for k in keys}
    named = [value for label, value in answers if label.lower() in wanted]
    found = named or [f"{label}: {value}" if label else value for label, value in answers]
    return "\n".join(found) if found else None
