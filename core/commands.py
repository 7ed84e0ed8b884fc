"""When a merchant's command may act on an order: one rule per command, shared by core's decisions and the API.

The API checks these before publishing, to answer 409 at once; core checks
them again when the command arrives (the order may have moved meanwhile),
and ignores a command they refuse.
"""

from __future__ import annotations

from core.order import CANCELLED, PA, PP, Order
from schemas import ApproveOrder, CancelOrder, Command, ResendLink


def refusal(order: Order | None, command: type[Command]) -> str | None:
    """Why `command` cannot act on the order now; None when it can."""
    status = order.status if order is not None else None
    if command is ApproveOrder and status not in (PP, PA):
        return (
            f"cannot approve an order that is {describe(order)}: "
            "only orders pending personalization or pending approval can be approved"
        )
    if command is CancelOrder and (order is None or status is CANCELLED):
        return f"cannot cancel an order that is {describe(order)}"
    if command is ResendLink and status is not PP:
        return (
            f"no link to resend for an order that is {describe(order)}: "
            "links are sent only while an order is pending personalization"
        )
    return None


def describe(order: Order | None) -> str:
    if order is None:
        return "unknown"
    return order.status.value if order.status else "awaiting payment"
