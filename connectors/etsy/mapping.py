"""Etsy `ShopReceipt` (Open API v3 JSON) → OrderReceived.

Quirks live here, each in a small function:
- money is `{amount, divisor, currency_code}` with an integer amount (1450 over 100 → "14.50");
- times are epoch seconds, under two names each (`created_timestamp` and the older `create_timestamp`);
- `status` is compared case-insensitively: Etsy's reference lists it lowercase in the enum and
  capitalised in the prose (etsy/open-api#480);
- buyer text is a transaction variation with `property_id` 54, `Not requested on this item.` when the
  buyer left it empty (etsy/open-api#260), and HTML-escaped like other formatted values (`women&#039;s`,
  etsy/open-api#254). Since the 2026 multi-question personalization a listing asks up to five questions:
  each answer is its own property-54 variation whose `formatted_name` is the seller's question text (and
  `question_id` names the question; developers.etsy.com/documentation/tutorials/personalization/
  multiple-and-new-question-type-support). Each is kept with its question (`buyer_answers`);
  `buyer_personalization` is the one answer, or `question: answer` lines (connectors/answers.py);
- `buyer_email` is null unless Etsy grants the app access to it;
- the receipt's `name` is the shipping recipient's, the only buyer name a receipt carries;
- Etsy has no test orders and no test flag (PLATFORMS.md: "Test/draft: none"): `is_test` is always False.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import ValidationError

from connectors.answers import buyer_answers
from connectors.errors import UnmappableOrderError
from connectors.platform import MappedOrder
from plumbing.config import StoreConfig
from schemas import Address, Customer, LineItem, OrderReceived, order_key

PERSONALIZATION_PROPERTY = 54
NOT_REQUESTED = "not requested on this item."
PAID_STATUSES = {"paid", "completed", "partially refunded"}


def map_order(store: StoreConfig, raw: dict) -> MappedOrder:
    try:
        receipt_id = str(integer(raw["receipt_id"]))
        placed = epoch(first(raw, "created_timestamp", "create_timestamp"))
        order = OrderReceived(
            order_key=order_key("etsy", store.store_id, receipt_id),
            platform="etsy",
            store_id=store.store_id,
            platform_order_id=receipt_id,
            order_number=receipt_id,  # Etsy shows the receipt id as the order number
            placed_at=placed,
            payment_status=payment_status(raw),
            cancelled=status(raw) == "canceled",
            is_test=False,
            currency=raw["grandtotal"]["currency_code"],
            total=money(raw["grandtotal"]),
            customer=Customer(name=raw.get("name") or "", email=raw.get("buyer_email") or None),
            shipping_address=address(raw),
            line_items=[line(t, store) for t in raw.get("transactions") or [] if bought(t)],
        )
        modified = first(raw, "updated_timestamp", "update_timestamp", "created_timestamp", "create_timestamp")
        return MappedOrder(order=order, modified_at=epoch(modified))
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, ValidationError) as error:
        raise UnmappableOrderError(f"{type(error).__name__}: {error}") from None


def first(raw: dict, *keys: str) -> object:
    """The first of several names Etsy gives one field; KeyError naming them all when none is set."""
    for key in keys:
        if raw.get(key) is not None:
            return raw[key]
    raise KeyError(" / ".join(keys))


def integer(value: object) -> int:
    """Etsy ids, amounts and times are JSON integers; a float or a bool here means a body we misread."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def epoch(value: object) -> datetime:
    return datetime.fromtimestamp(integer(value), tz=UTC)


def status(raw: dict) -> str:
    return str(raw.get("status") or "").strip().lower()


def payment_status(raw: dict) -> str:
    if status(raw) == "fully refunded":
        return "refunded"
    if raw.get("is_paid") is True or status(raw) in PAID_STATUSES:
        return "paid"
    return "unpaid"


def money(value: dict) -> str:
    """`amount / divisor` at the divisor's precision (100 → 2 places; 1 for yen → none), as a decimal string."""
    amount, divisor = integer(value["amount"]), integer(value["divisor"])
    if divisor <= 0:
        raise ValueError(f"money divisor {divisor}")
    digits = str(divisor)
    places = len(digits) - 1 if digits.rstrip("0") == "1" else 2
    return str((Decimal(amount) / divisor).quantize(Decimal(1).scaleb(-places)))


def address(raw: dict) -> Address | None:
    """The shipping address is flat on the receipt; some regions hide it from apps without a partnership."""
    if not any(raw.get(k) for k in ("first_line", "city", "zip", "country_iso")):
        return None
    return Address(
        name=raw.get("name") or "",
        line1=raw.get("first_line") or "",
        line2=raw.get("second_line") or "",
        city=raw.get("city") or "",
        region=raw.get("state") or "",
        postal_code=raw.get("zip") or "",
        country=raw.get("country_iso") or "",
    )


def bought(transaction: dict) -> bool:
    """The OAS lets a transaction's quantity be 0; such a line has nothing to make or fulfil."""
    return transaction.get("quantity") != 0


def line(transaction: dict, store: StoreConfig) -> LineItem:
    listing, product = transaction.get("listing_id"), transaction.get("product_id")
    text, answers = buyer_answers(personalization(transaction.get("variations") or [], store.buyer_text_keys))
    return LineItem(
        line_id=str(integer(transaction["transaction_id"])),
        product_id=str(integer(listing)) if listing else None,  # the catalog matches Etsy listings here
        variant_id=str(integer(product)) if product else None,  # Etsy's inventory product of the listing
        sku=transaction.get("sku") or None,
        title=html.unescape(transaction.get("title") or ""),
        quantity=integer(transaction["quantity"]),
        unit_price=money(transaction["price"]),  # per unit: the receipt's total_price is the sum of price * quantity
        buyer_personalization=text,
        buyer_answers=answers,
    )


def personalization(variations: list[dict], keys: list[str]) -> list[tuple[str, str]]:
    """(question, answer) of every personalization variation (property 54, or named as the store says)."""
    wanted = {k.lower() for k in keys}
    found = []
    for variation in variations:
        name = html.unescape(str(variation.get("formatted_name") or "")).strip()
        if variation.get("property_id") != PERSONALIZATION_PROPERTY and name.lower() not in wanted:
            continue
        value = html.unescape(str(variation.get("formatted_value") or "")).strip()
        if value.lower() != NOT_REQUESTED:
            found.append((name, value))
    return found
