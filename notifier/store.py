"""Where the notifier keeps each order's link state and outbox: Redis in production, dicts in fast tests.

One store, not two: an order's state and its outbox change together (a link
is issued with its outbox entry, a status change forgets both), and with the
order's timer. Every write is a compare-and-set: it names what the decision
read (`read`, or the sequence and count it acted on) and is refused, writing
nothing, when the order changed since. The rules live in `notifier/policy.py`;
a store only applies what it is told, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from notifier.due import Timers
from notifier.entries import EmailedReminder, LinkEntry, OutboxEntry, QueuedReminder
from notifier.link_state import LinkState, LiveLink
from notifier.policy import ForgetPlan, RequestPlan, StatusPlan
from schemas import OrderStatusChanged, PersonalizationRequested

SEEN_TTL_S = 60 * 86400  # input event ids are remembered this long: a redelivery within it does nothing


class Recorded(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # its event id was seen: a redelivery changes nothing
    STALE = "stale"  # older than the status known: only its id is remembered
    CONFLICT = "conflict"  # the order changed since it was read: nothing written; read and decide again


@dataclass(frozen=True)
class NewLink:
    entry: LinkEntry  # its outbox entry: the events to publish, the delivery to email
    token_sha256: str  # all that stays of the token once the emails are out
    expires: datetime
    remind_at: tuple[float, ...]
    live: LiveLink | None  # kept while reminders are still to come


class LinkStore(Protocol):
    @property
    def timers(self) -> Timers:
        """The orders' timers; the writes below change an order's timer in the same atomic step."""
        ...

    async def state(self, order_key: str) -> LinkState:
        """The order as one snapshot, outbox included; an unknown order is `LinkState()`."""
        ...

    async def record_request(self, request: PersonalizationRequested, read: LinkState, plan: RequestPlan) -> Recorded:
        """DUPLICATE, or CONFLICT if the order's status time or link sequence moved since `read`; else `plan`."""
        ...

    async def record_status(
        self, change: OrderStatusChanged, read: LinkState, plan: StatusPlan, now: datetime
    ) -> Recorded:
        """DUPLICATE, or CONFLICT if the status time (or, to forget, the outbox) moved since `read`; else `plan`."""
        ...

    async def forget(self, order_key: str, read: LinkState, plan: ForgetPlan, now: datetime) -> bool:
        """Drop the entries and the live link, keep the emailed ones; their order stays due (from `now`) while
        any are kept, else leaves the timer. False, writing nothing, if the outbox changed since `read`."""
        ...

    async def issue(self, order_key: str, after_seq: int, link: NewLink, *, fence: str) -> bool:
        """Record the link and its outbox entry; False if the order is not pending, its sequence moved, or its
        timer is no longer held under `fence` (another copy claimed it since)."""
        ...

    async def remind(
        self,
        order_key: str,
        seq: int,
        after: int,
        reminded: int,
        last: bool,
        entry: QueuedReminder | None,
        *,
        fence: str,
    ) -> bool:
        """Count link `seq`'s reminders from `after` to `reminded`, queue `entry`, drop the live link when `last`;
        False if the order is not pending, its sequence or count moved, or it is not held under `fence`."""
        ...

    async def update_outbox(self, order_key: str, entry: OutboxEntry, *, fence: str) -> bool:
        """Rewrite an entry still there; False if it is gone (the order left pending_personalization) or the order
        is not held under `fence`."""
        ...

    async def emailed(self, order_key: str, entry: EmailedReminder, now: datetime) -> None:
        """Store the entry even if the order moved on meanwhile, and keep the order due from `now`."""
        ...

    async def sent(self, order_key: str, entry_id: str) -> None:
        """The entry is done: gone, raw token and all; the order's SMTP failure count starts again."""
        ...

    async def mail_failed(self, order_key: str) -> int:
        """One more SMTP failure for the order; how many in a row."""
        ...
