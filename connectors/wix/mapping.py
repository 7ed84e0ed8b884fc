"""Wix eCom order (Search/Get Order JSON, also inside webhooks) → OrderReceived.

Fields (https://dev.wix.com/docs/rest/api-reference/wix-e-commerce/orders/order-object):
`id`, `number`, `createdDate`/`updatedDate` (ISO-8601, `Z`, milliseconds),
`status`, `paymentStatus`, `currency`, `priceSummary.total.amount`,
`buyerInfo.email`, `billingInfo.contactDetails`, `shippingInfo.logistics.
shippingDestination`, `lineItems[]` with `productName.original`,
`catalogReference`, `quantity`, `price.amount`, `physicalProperties.sku`.
Money is `{"amount": "14.5", "formattedAmount": "$14.50"}`: we read `amount`.

Quirks and decisions, each in a small function below:
- `paymentStatus` PAID and PARTIALLY_REFUNDED → paid (a part refund is of a
  paid order: mapped unpaid, such an order waited forever), FULLY_REFUNDED →
  refunded, anything else (NOT_PAID, PENDING, PARTIALLY_PAID) → unpaid; an
  `INITIALIZED` order is an online order not paid yet, so unpaid whatever it says.
- `status` CANCELED → cancelled.
- No test-order flag exists in the order: `is_test` is always False.
- A product without variants has the nil GUID as `variantId`: no variant.
- The buyer's text is `catalogReference.options.customTextFields`
  ({field label: text}); labels in the store's `buyer_text_keys` are preferred,
  else every field is taken (the label is the merchant's own question), each
  kept with its label (connectors/answers.py).
- The address line is `addressLine1` (older payloads: `addressLine`), else
  `streetAddress` {number, name}; `subdivision` is ISO 3166-2 (`US-NY`) and
  loses its country prefix, like other platforms' region codes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from connectors.answers import buyer_answers
from connectors.errors import UnmappableOrderError
from connectors.platform import MappedOrder
from plumbing.config import StoreConfig
from schemas import Address, Customer, LineItem, OrderReceived, order_key

NIL_GUID = "00000000-0000-0000-0000-000000000000"
PAYMENT = {"PAID": "paid", "PARTIALLY_REFUNDED": "paid", "FULLY_REFUNDED": "refunded"}


def map_order(store: StoreConfig, raw: dict) -> MappedOrder:
    try:
        order_id = str(raw["id"])
        order = OrderReceived(
            order_key=order_key("wix", store.store_id, order_id),
            platform="wix",
            store_id=store.store_id,
            platform_order_id=order_id,
            order_number=str(raw.get("number") or order_id),
            placed_at=timestamp(raw["createdDate"]),
            payment_status=payment_status(raw),
            cancelled=raw.get("status") == "CANCELED",
            is_test=False,
            currency=raw["currency"],
            total=money(raw["priceSummary"]["total"]),
            customer=customer(raw),
            shipping_address=address(_shipping_destination(raw)),
            line_items=[line(item, store) for item in raw.get("lineItems") or []],
        )
        return MappedOrder(order=order, modified_at=timestamp(raw.get("updatedDate") or raw["createdDate"]))
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation, ValidationError) as error:
        raise UnmappableOrderError(f"{type(error).__name__}: {error}") from None


def timestamp(value: str) -> datetime:
    """ISO-8601 with `Z`; a value without a zone is taken as UTC."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def payment_status(raw: dict) -> str:
    if raw.get("status") == "INITIALIZED":
        return "unpaid"
    return PAYMENT.get(raw.get("paymentStatus") or "", "unpaid")


def money(price: dict) -> str:
    return str(Decimal(str(price["amount"])).quantize(Decimal("0.01")))


def customer(raw: dict) -> Customer:
    billing = (raw.get("billingInfo") or {}).get("contactDetails")
    contact = billing or _shipping_destination(raw).get("contactDetails") or {}
    return Customer(name=full_name(contact), email=(raw.get("buyerInfo") or {}).get("email") or None)


def full_name(contact: dict) -> str:
    return " ".join(p for p in (contact.get("firstName"), contact.get("lastName")) if p)


def _shipping_destination(raw: dict) -> dict:
    """Absent for pickup and digital orders."""
    return ((raw.get("shippingInfo") or {}).get("logistics") or {}).get("shippingDestination") or {}


def address(destination: dict) -> Address | None:
    where, contact = destination.get("address") or {}, destination.get("contactDetails") or {}
    if not any(where.get(k) for k in ("addressLine1", "addressLine", "streetAddress", "city", "postalCode", "country")):
        return None
    line1, line2 = address_lines(where)
    return Address(
        name=full_name(contact),
        line1=line1,
        line2=line2,
        city=where.get("city") or "",
        region=region(where.get("subdivision") or "", where.get("country") or ""),
        postal_code=where.get("postalCode") or "",
        country=where.get("country") or "",
        phone=contact.get("phone") or "",
    )


def address_lines(where: dict) -> tuple[str, str]:
    street = where.get("streetAddress") or {}
    line1 = (
        where.get("addressLine1")
        or where.get("addressLine")
        or " ".join(p for p in (street.get("number"), street.get("name")) if p)
    )
    return line1, where.get("addressLine2") or street.get("apt") or ""


def region(subdivision: str, country: str) -> str:
    prefix = f"{country}-"
    return subdivision[len(prefix) :] if country and subdivision.startswith(prefix) else subdivision


def line(item: dict, store: StoreConfig) -> LineItem:
    reference = item.get("catalogReference") or {}
    options = reference.get("options") or {}
    text, answers = buyer_answers(buyer_fields(options.get("customTextFields") or {}, store.buyer_text_keys))
    return LineItem(
        line_id=str(item["id"]),
        product_id=reference.get("catalogItemId") or None,
        variant_id=variant(options.get("variantId")),
        sku=(item.get("physicalProperties") or {}).get("sku") or None,
        title=(item.get("productName") or {}).get("original") or "",
        quantity=int(item["quantity"]),
        unit_price=money(item["price"]),
        buyer_personalization=text,
        buyer_answers=answers,
    )


def variant(value: str | None) -> str | None:
    return value if value and value != NIL_GUID else None


def buyer_fields(fields: dict, keys: list[str]) -> list[tuple[str, str]]:
    """(label, text) of the fields the store names, else of every field with text."""
    wanted = {k.lower() for k in keys}
    texts = [(str(label), str(text)) for label, text in fields.items() if text not in (None, "")]
    return [(label, text) for label, text in texts if label.lower() in wanted] or texts
