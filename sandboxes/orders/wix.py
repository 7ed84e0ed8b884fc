"""Wix orders in the shape of the docs' examples (Search Orders, Order Approved)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sandboxes.base import ItemSpec, SandboxState

STORES_APP_ID = "215238eb-22a5-4c36-9e7b-e7c08025e04e"
NIL_GUID = "00000000-0000-0000-0000-000000000000"
ADDRESS = {
    "country": "US",
    "subdivision": "US-NY",
    "city": "New York",
    "postalCode": "10011",
    "streetAddress": {"number": "235", "name": "West 23rd Street"},
    "addressLine1": "235 West 23rd Street",
    "addressLine2": "3rd floor",
}


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def money(amount: Decimal) -> dict[str, str]:
    """Wix writes amounts without trailing zeros ("14.5", "0") next to a display string."""
    return {"amount": format(amount.normalize(), "f"), "formattedAmount": f"${amount:.2f}"}


def catalog_reference(item: ItemSpec) -> dict[str, Any]:
    options: dict[str, Any] = {"variantId": item.variant_id or NIL_GUID}
    if item.buyer_text:
        options["customTextFields"] = {"Personalization": item.buyer_text}
    return {"catalogItemId": item.product_id, "appId": STORES_APP_ID, "options": options}


def line_item(
    index: int, reference: dict, title: str, quantity: int, price: Decimal, sku: str | None
) -> dict[str, Any]:
    physical = {"sku": sku, "shippable": True} if sku else {"shippable": True}
    return {
        "id": f"00000000-0000-0000-0000-{index:012d}",
        "productName": {"original": title, "translated": title},
        "catalogReference": reference,
        "quantity": quantity,
        "totalDiscount": money(Decimal(0)),
        "descriptionLines": [],
        "physicalProperties": physical,
        "itemType": {"preset": "PHYSICAL"},
        "price": money(price),
        "priceBeforeDiscounts": money(price),
        "totalPriceBeforeTax": money(price * quantity),
        "totalPriceAfterTax": money(price * quantity),
        "taxDetails": {"taxRate": "0", "totalTax": money(Decimal(0))},
        "paymentOption": "FULL_PAYMENT_ONLINE",
    }


def order_json(
    state: SandboxState, lines: list[dict], paid: bool, name: str, placed: datetime, email: str | None = None
) -> dict[str, Any]:
    first, _, last = name.partition(" ")
    contact = {"firstName": first, "lastName": last, "phone": "+12125550100"}
    subtotal = sum((Decimal(line["totalPriceAfterTax"]["amount"]) for line in lines), Decimal(0))
    shipping = Decimal("4.99")
    return {
        "id": str(uuid.uuid4()),
        "number": str(10000 + state.next_id()),
        "createdDate": timestamp(placed),
        "updatedDate": timestamp(placed),
        "lineItems": lines,
        "buyerInfo": {"contactId": str(uuid.uuid4()), "email": email or f"{first.lower()}@example.com"},
        "paymentStatus": "PAID" if paid else "NOT_PAID",
        "fulfillmentStatus": "NOT_FULFILLED",
        "buyerLanguage": "en",
        "weightUnit": "KG",
        "currency": "USD",
        "taxIncludedInPrices": False,
        "siteLanguage": "en",
        "priceSummary": {
            "subtotal": money(subtotal),
            "shipping": money(shipping),
            "tax": money(Decimal(0)),
            "discount": money(Decimal(0)),
            "totalPrice": money(subtotal),
            "total": money(subtotal + shipping),
        },
        "billingInfo": {"address": dict(ADDRESS), "contactDetails": dict(contact)},
        "shippingInfo": {
            "title": "Standard Shipping",
            "cost": {"price": money(shipping)},
            "logistics": {
                "deliveryTime": "3-5 business days",
                "shippingDestination": {"address": dict(ADDRESS), "contactDetails": dict(contact)},
            },
        },
        "status": "APPROVED",
        "archived": False,
        "channelInfo": {"type": "WEB"},
        "seenByAHuman": False,
        "activities": [{"id": str(uuid.uuid4()), "createdDate": timestamp(placed), "type": "ORDER_PLACED"}],
    }
