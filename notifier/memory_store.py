"""The link store's twin: the same contract on dicts, for tests without a Redis server.

Each method runs without an `await` between its check and its writes, so on
one event loop it is as atomic as the Redis script. Outbox entries are kept
as the JSON Redis would hold, so the twin reads them back through the same
parser. Seen event ids do not expire here (Redis forgets them after 60 days).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from notifier.due import MemoryTimers
from notifier.entries import EmailedReminder, OutboxEntry, QueuedReminder, entry_json, oldest_first, parse_entry
from notifier.link_state import PP, LinkState, micros
from notifier.policy import ForgetPlan, RequestPlan, StatusPlan
from notifier.store import NewLink, Recorded
from schemas import OrderStatusChanged, PersonalizationRequested


@dataclass
class _Order:
    state: LinkState = field(default_factory=LinkState)  # its outbox fields unused: `outbox` holds the entries
    outbox: dict[str, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def stored(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.outbox.items()))


@dataclass(frozen=True)
class LinkRecord:
    """What stays of a link once its emails are out: found by the token's hash."""

    order_key: str
    link_id: str
    sequence: int
    expires: datetime


class MemoryLinkStore:
    def __init__(self, timers: MemoryTimers | None = None) -> None:
        self.timers = timers or MemoryTimers()
        self.links: dict[str, LinkRecord] = {}
        self._orders: dict[str, _Order] = {}

    def _held(self, order_key: str, fence: str) -> bool:
        return self.timers.claims.get(order_key) == fence

    def _order(self, order_key: str) -> _Order:
        return self._orders.setdefault(order_key, _Order())

    async def state(self, order_key: str) -> LinkState:
        order = self._order(order_key)
        stored = order.stored()
        entries = oldest_first(parse_entry(entry_id, json) for entry_id, json in stored)
        return replace(order.state, outbox=entries, outbox_as_stored=stored)

    async def record_request(self, request: PersonalizationRequested, read: LinkState, plan: RequestPlan) -> Recorded:
        order = self._order(request.order_key)
        if request.event_id in order.seen:
            return Recorded.DUPLICATE
        if (order.state.status_at, order.state.seq) != (read.status_at, read.seq):
            return Recorded.CONFLICT
        order.seen.add(request.event_id)
        if plan.marks_pending:
            order.state = replace(order.state, status=PP, status_at=micros(request.occurred_at))
        order.state = replace(order.state, request=request, force=order.state.force or plan.fresh_link)
        self.timers.set(request.order_key, plan.wake_at, unless_set=plan.keep_timer)
        return Recorded.RECORDED

    async def record_status(
        self, change: OrderStatusChanged, read: LinkState, plan: StatusPlan, now: datetime
    ) -> Recorded:
        order = self._order(change.order_key)
        if change.event_id in order.seen:
            return Recorded.DUPLICATE
        if order.state.status_at != read.status_at or (
            plan.forget is not None and order.stored() != read.outbox_as_stored
        ):
            return Recorded.CONFLICT
        order.seen.add(change.event_id)
        if plan.stale:
            return Recorded.STALE
        order.state = replace(order.state, status=change.to_status.value, status_at=micros(change.occurred_at))
        if plan.forget is not None:
            self._forget(change.order_key, order, plan.forget, now)
        return Recorded.RECORDED

    async def forget(self, order_key: str, read: LinkState, plan: ForgetPlan, now: datetime) -> bool:
        order = self._order(order_key)
        if order.stored() != read.outbox_as_stored:
            return False
        self._forget(order_key, order, plan, now)
        return True

    def _forget(self, order_key: str, order: _Order, plan: ForgetPlan, now: datetime) -> None:
        order.outbox.update({entry.id: entry_json(entry) for entry in plan.keep})
        for entry_id in plan.drop:
            order.outbox.pop(entry_id, None)
        order.state = replace(order.state, live=None)
        if plan.stays_due:
            self.timers.set(order_key, now, unless_set=True)
        else:
            self.timers.scores.pop(order_key, None)

    async def issue(self, order_key: str, after_seq: int, link: NewLink, *, fence: str) -> bool:
        order, entry = self._order(order_key), link.entry
        if not self._held(order_key, fence) or order.state.status != PP or order.state.seq != after_seq:
            return False
        order.state = replace(
            order.state,
            seq=entry.sequence,
            expires=link.expires.timestamp(),
            force=False,
            link_id=entry.link_id,
            remind_at=link.remind_at,
            reminded=0,
            live=link.live,
        )
        order.outbox[entry.id] = entry_json(entry)
        self.links[link.token_sha256] = LinkRecord(order_key, entry.link_id, entry.sequence, link.expires)
        return True

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
        order = self._order(order_key)
        if not self._held(order_key, fence) or order.state.status != PP:
            return False
        if (order.state.seq, order.state.reminded) != (seq, after):
            return False
        order.state = replace(order.state, reminded=reminded, live=None if last else order.state.live)
        if entry is not None:
            order.outbox[entry.id] = entry_json(entry)
        return True

    async def update_outbox(self, order_key: str, entry: OutboxEntry, *, fence: str) -> bool:
        order = self._order(order_key)
        if not self._held(order_key, fence) or entry.id not in order.outbox:
            return False
        order.outbox[entry.id] = entry_json(entry)
        return True

    async def emailed(self, order_key: str, entry: EmailedReminder, now: datetime) -> None:
        self._order(order_key).outbox[entry.id] = entry_json(entry)
        self.timers.set(order_key, now, unless_set=True)

    async def sent(self, order_key: str, entry_id: str) -> None:
        order = self._order(order_key)
        order.outbox.pop(entry_id, None)
        order.state = replace(order.state, smtp_failures=0)

    async def mail_failed(self, order_key: str) -> int:
        order = self._order(order_key)
        order.state = replace(order.state, smtp_failures=order.state.smtp_failures + 1)
        return order.state.smtp_failures
