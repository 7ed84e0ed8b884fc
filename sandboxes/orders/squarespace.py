"""Squarespace orders: the documented Order shape, the leading fields of `samples/squarespace/order_retrieve_partial.json`
completed with the rest of the documented response example (developers.squarespace.com/commerce-apis/
retrieve-specific-order, as copied in public repos; see `connectors/squarespace/mapping.py` for where each field
comes from)."""

from __future__ import annotations

import copy
import json
import secrets
import uuid
import zlib
from pathlib import Path
from typing import Any

from sandboxes.base import ItemSpec

SAMPLES = Path(__file__).parents[1] / "samples" / "squarespace"
ADDRESS = {
    "firstName": "Bob",
    "lastName": "Loblaw",
    "address1": "459 Broadway",
    "address2": None,
    "city": "New York",
    "state": "NY",
    "countryCode": "US",
    "postalCode": "10003",
    "phone": "5553334444",
}


def usd(value: str) -> dict[str, str]:
    return {"value": value, "currency": "USD"}


# The documented example after `customerEmail`, values as documented (fulfillments left out: the order is PENDING).
DOCUMENTED_REST: dict[str, Any] = {
    "billingAddress": dict(ADDRESS),
    "shippingAddress": dict(ADDRESS),
    "fulfillmentStatus": "PENDING",
    "lineItems": [
        {
            "id": "585d4975dee9f31a60284a16",
            "variantId": "88c16ee4-547b-445e-a392-bded9991ae30",
            "sku": "SQ3381024",
            "weight": 1.0,
            "width": 2.0,
            "length": 3.0,
            "height": 4.0,
            "productId": "565c8f3da7c8a3cf71d5fd0a",
            "productName": "Product",
            "quantity": 1,
            "unitPricePaid": usd("55.00"),
            "variantOptions": [{"value": "Large", "optionName": "Size"}, {"value": "Black", "optionName": "Color"}],
            "customizations": [{"label": "Shirt Emblem Location", "value": "Middle Chest"}],
            "imageUrl": "https://static.squarespace.com/universal/commerce/images/brine-32oz-spring-mix-v2.jpg?format=300w",
            "lineItemType": "PHYSICAL_PRODUCT",
        }
    ],
    "internalNotes": [{"content": "First note"}, {"content": "Second note"}],
    "shippingLines": [{"method": "Flat Rate", "amount": usd("1.00")}],
    "discountLines": [
        {"description": "Fall Sale", "name": "Fall Sale", "amount": usd("1.00"), "promoCode": "FALLSALE"}
    ],
    "formSubmission": [{"label": "How did you hear about us?", "value": "Facebook"}],
    "fulfillments": [],
    "subtotal": usd("55.00"),
    "shippingTotal": usd("1.00"),
    "discountTotal": usd("1.00"),
    "taxTotal": usd("2.70"),
    "refundedTotal": usd("0.00"),
    "grandTotal": usd("57.70"),
    "channelName": "External Channel",
    "externalOrderReference": "TEST-123456",
    "fulfilledOn": None,
    "priceTaxInterpretation": "INCLUSIVE",
}


def documented_order() -> dict[str, Any]:
    return {**json.loads((SAMPLES / "order_retrieve_partial.json").read_text()), **copy.deepcopy(DOCUMENTED_REST)}


def line_item(item: ItemSpec) -> dict[str, Any]:
    # Squarespace gives every physical variant an SKU ("SQ" + 7 digits) and a UUID: stable per product here.
    return {
        "id": secrets.token_hex(12),
        "variantId": item.variant_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"squarespace:{item.product_id}")),
        "sku": item.sku or f"SQ{zlib.crc32(item.product_id.encode()) % 10_000_000:07d}",
        "weight": 0.0,
        "width": 0.0,
        "length": 0.0,
        "height": 0.0,
        "productId": item.product_id,
        "productName": item.title,
        "quantity": item.quantity,
        "unitPricePaid": usd(item.price),
        "variantOptions": [],
        "customizations": [{"label": "Personalization", "value": item.buyer_text}] if item.buyer_text else None,
        "imageUrl": None,
        "lineItemType": "PHYSICAL_PRODUCT",
    }
