"""Etsy receipts, built to the field names and types of Etsy's official OAS schemas
(`samples/etsy/oas_shop_receipt_schemas.json`): Etsy publishes no example receipt. Formatted values and titles
are HTML-escaped as Etsy sends them (etsy/open-api#254)."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

from sandboxes.base import ItemSpec, SandboxState

SELLER_USER_ID = 87654321


def money(value: str | Decimal) -> dict[str, Any]:
    return {"amount": int(Decimal(value) * 100), "divisor": 100, "currency_code": "USD"}


def escaped(text: str) -> str:
    return html.escape(text).replace("&#x27;", "&#039;")


def personalization(text: str, question: str = "Personalization") -> dict[str, Any]:
    """One answer: since Etsy's multi-question personalization (up to five per listing) each is a property-54
    variation named by the seller's question text."""
    return {"property_id": 54, "value_id": None, "formatted_name": escaped(question), "formatted_value": escaped(text)}


def transaction(
    tid: int,
    receipt_id: int,
    when: int,
    paid: bool,
    listing_id: int,
    product_id: int,
    title: str,
    quantity: int,
    price: str,
    sku: str | None,
    variations: list[dict],
) -> dict[str, Any]:
    return {
        "transaction_id": tid,
        "title": escaped(title),
        "description": None,
        "seller_user_id": SELLER_USER_ID,
        "buyer_user_id": 11223344,
        "create_timestamp": when,
        "created_timestamp": when,
        "paid_timestamp": when if paid else None,
        "shipped_timestamp": None,
        "quantity": quantity,
        "listing_image_id": None,
        "receipt_id": receipt_id,
        "is_digital": False,
        "file_data": "",
        "listing_id": listing_id,
        "transaction_type": "listing",
        "product_id": product_id,
        "sku": sku or "",
        "price": money(price),
        "shipping_cost": money("0"),
        "variations": variations,
        "product_data": [],
        "shipping_profile_id": None,
        "min_processing_days": 1,
        "max_processing_days": 3,
        "shipping_method": None,
        "shipping_upgrade": None,
        "expected_ship_date": when + 3 * 86400,
        "buyer_coupon": 0,
        "shop_coupon": 0,
    }


def receipt(
    receipt_id: int, when: int, paid: bool, name: str, email: str | None, transactions: list[dict], shipping: str = "0"
) -> dict[str, Any]:
    items = sum(Decimal(t["price"]["amount"]) / 100 * t["quantity"] for t in transactions)
    total = items + Decimal(shipping)
    return {
        "receipt_id": receipt_id,
        "receipt_type": 0,
        "seller_user_id": SELLER_USER_ID,
        "seller_email": "seller@example.com",
        "buyer_user_id": 11223344,
        "buyer_email": email,
        "name": name,
        "first_line": "12 Analytical Row",
        "second_line": None,
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "status": "paid" if paid else "open",
        "formatted_address": f"{name}\n12 Analytical Row\nSpringfield, IL 62701\nUnited States",
        "country_iso": "US",
        "payment_method": "cc",
        "payment_email": None,
        "message_from_seller": None,
        "message_from_buyer": None,
        "message_from_payment": None,
        "is_paid": paid,
        "is_shipped": False,
        "create_timestamp": when,
        "created_timestamp": when,
        "update_timestamp": when,
        "updated_timestamp": when,
        "is_gift": False,
        "gift_message": "",
        "gift_sender": "",
        "grandtotal": money(total),
        "subtotal": money(items),
        "total_price": money(items),
        "total_shipping_cost": money(shipping),
        "total_tax_cost": money("0"),
        "total_vat_cost": money("0"),
        "discount_amt": money("0"),
        "gift_wrap_price": money("0"),
        "shipments": [],
        "transactions": transactions,
        "refunds": [],
    }


def seeded() -> list[dict[str, Any]]:
    """Two receipts of May 2024: a paid one whose listing asks two questions, a shipped one whose buyer left
    the answer empty."""
    when = 1714557600
    white = {"property_id": 200, "value_id": 1213, "formatted_name": "Color", "formatted_value": "White"}
    asked = [personalization("Ada & Grace", "Names on the mug"), personalization("Serif", "Font")]
    mug = _name_mug(4101000001, 3301000001, when, 2, [white, *asked])
    tote = transaction(4101000002, 3301000001, when, True, 1509870001, 12870000001, "Plain tote", 1, "9.00", None, [])
    not_asked = _name_mug(4101000003, 3301000002, when + 3600, 1, [personalization("Not requested on this item.")])
    shipped = receipt(3301000002, when + 3600, True, "Grace Hopper", None, [not_asked], shipping="4.00")
    shipment = {
        "receipt_shipping_id": 5501000001,
        "shipment_notification_timestamp": when + 90000,
        "carrier_name": "usps",
        "tracking_code": "9400111899223100000000",
    }
    shipped.update(
        status="completed",
        is_shipped=True,
        update_timestamp=when + 90000,
        updated_timestamp=when + 90000,
        shipments=[shipment],
    )
    return [receipt(3301000001, when, True, "Ada Lovelace", "ada@example.com", [mug, tote]), shipped]


def _name_mug(tid: int, receipt_id: int, when: int, quantity: int, variations: list[dict]) -> dict[str, Any]:
    """A paid transaction of the seeded shop's personalizable listing."""
    return transaction(
        tid,
        receipt_id,
        when,
        True,
        1509876543,
        12876543210,
        "Name mug - 11oz",
        quantity,
        "14.50",
        "MUG-NAME",
        variations,
    )


def transaction_of(state: SandboxState, receipt_id: int, when: int, paid: bool, item: ItemSpec) -> dict[str, Any]:
    """The transaction of one placed item."""
    variations = [personalization(item.buyer_text)] if item.buyer_text else []
    product_id = int(item.variant_id) if item.variant_id else state.next_id()
    return transaction(
        state.next_id(),
        receipt_id,
        when,
        paid,
        int(item.product_id),
        product_id,
        item.title,
        item.quantity,
        item.price,
        item.sku,
        variations,
    )
