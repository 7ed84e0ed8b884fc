"""A WooCommerce order id, checked before it goes into a request path: a post id, a positive integer."""

from __future__ import annotations

import re

from connectors.errors import RefusedOrderIdError

# WordPress post ids are unsigned BIGINT(20): at most 20 digits. Digits only, so nothing can climb out of
# `/orders/{id}` (`../../x`, `%2F`, `?`, `#`).
_ORDER_ID = re.compile(r"[1-9][0-9]{0,19}")


def order_id(value: object) -> str:
    """`value` (a JSON number or a string of digits) as an order id; RefusedOrderIdError otherwise."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _ORDER_ID.fullmatch(text):
        raise RefusedOrderIdError(f"not a WooCommerce order id: {str(value)[:40]!r}")
    return text
