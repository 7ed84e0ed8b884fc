"""What core remembers of an order's links: pure functions from a link event to the updated order.

The notifier issues links, the editor sees them opened; core only records
their times so the merchant API can show them. Each function returns the
order unchanged when the event says nothing new, which makes a redelivery a
no-op by state alone (these events are not kept in `Order.applied`: they
publish nothing, and would push a command's memory out).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.order import LinkState, Order, Reminder
from schemas import (
    PersonalizationLinkExpired,
    PersonalizationLinkIssued,
    PersonalizationLinkOpened,
    PersonalizationReminderSent,
)

LinkEvent = (
    PersonalizationLinkIssued | PersonalizationLinkOpened | PersonalizationLinkExpired | PersonalizationReminderSent
)


def record(order: Order, event: LinkEvent) -> Order:
    known = _find(order, event.link_id)
    updated = _RECORDERS[type(event)](known or LinkState(link_id=event.link_id, sequence=event.sequence), event)
    return order if updated == known else completed(_with_link(order, updated))


def completed(order: Order) -> Order:
    """Mark the newest link completed at `personalized_at`: the editor shows every live link the newest one's items.

    Run again whenever a link is recorded, because the completion may be handled before the issue of its link
    (another topic, so no order between them).
    """
    if order.personalized_at is None or not order.links:
        return order
    newest = max(order.links, key=lambda link: link.sequence)
    links = [
        link.model_copy(update={"completed_at": order.personalized_at if link is newest else None})
        for link in order.links
    ]
    return order.model_copy(update={"links": links})


def _issued(link: LinkState, event: PersonalizationLinkIssued) -> LinkState:
    return link.model_copy(
        update={"recipient": event.recipient, "issued_at": event.occurred_at, "expires_at": event.expires_at}
    )


def _opened(link: LinkState, event: PersonalizationLinkOpened) -> LinkState:
    return link if link.opened_at else link.model_copy(update={"opened_at": event.occurred_at})


def _expired(link: LinkState, event: PersonalizationLinkExpired) -> LinkState:
    return link if link.expired_at else link.model_copy(update={"expired_at": event.expired_at})


def _reminded(link: LinkState, event: PersonalizationReminderSent) -> LinkState:
    if any(r.number == event.reminder for r in link.reminders):
        return link
    reminders = sorted([*link.reminders, Reminder(number=event.reminder, at=event.occurred_at)], key=lambda r: r.number)
    return link.model_copy(
        update={
            "reminders": reminders,
            "recipient": link.recipient or event.recipient,
            "expires_at": link.expires_at or event.expires_at,
        }
    )


def _find(order: Order, link_id: str) -> LinkState | None:
    return next((link for link in order.links if link.link_id == link_id), None)


def _with_link(order: Order, link: LinkState) -> Order:
    others = [other for other in order.links if other.link_id != link.link_id]
    return order.model_copy(update={"links": sorted([*others, link], key=lambda each: each.sequence)})


# Each takes the event of its own type: `record` looks it up by that type.
_RECORDERS: dict[type[LinkEvent], Callable[[LinkState, Any], LinkState]] = {
    PersonalizationLinkIssued: _issued,
    PersonalizationLinkOpened: _opened,
    PersonalizationLinkExpired: _expired,
    PersonalizationReminderSent: _reminded,
}
