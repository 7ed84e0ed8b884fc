"""A BigCommerce order id, checked before it goes into a request path: a positive integer."""

from __future__ import annotations

import re

from connectors.errors import RefusedOrderIdError

# ASCII digits only (str.isdigit() also takes "٣" and "²"), so nothing can climb out of `/v2/orders/{id}`.
_ORDER_ID = re.compile(r"[1-9][0-9]{0,19}")


def order_id(value: object, where: str = "order id") -> str:
    """`value` (a JSON number or a string of digits) as an order id; RefusedOrderIdError otherwise."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _ORDER_ID.fullmatch(text):
        raise RefusedOrderIdError(f"{where} is not an order id: {str(value)[:40]!r}")
    return text
