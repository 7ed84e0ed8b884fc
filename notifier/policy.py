"""The notifier's rules: pure functions of an order's `LinkState`, what arrived, and the time.

- A request: a fresh link at once when the merchant asked for one again, or
  when the items changed after a link went out (before that, the first link
  carries them); otherwise the first link at `notify_after`.
- A status change older than the status known is stale. Leaving
  `pending_personalization` forgets the order: its links and queued
  reminders go, tokens and all, but a reminder already emailed keeps its
  event until that is published.
- The order's time comes: forget it, wait for `notify_after`, issue the next
  link (the first, a fresh one, or one replacing a link that expired), send
  the latest reminder due, or wait for the next reminder or the expiry.

Nothing here reads a clock or a store: the stores apply what these return
atomically and refuse it when the order changed since it was read
(`notifier/store.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from notifier.entries import EmailedReminder, QueuedReminder
from notifier.link_state import PP, LinkState, LiveLink, micros
from notifier.reminders import due_reminder, next_wakeup, reminder_times
from schemas import OrderStatusChanged, PersonalizationRequested


@dataclass(frozen=True)
class RequestPlan:
    marks_pending: bool  # the request is the newest status fact: the order is pending personalization
    fresh_link: bool  # a new link is wanted now, whatever the last one's state
    wake_at: datetime
    keep_timer: bool  # an order already on the timer keeps its time (a repeat neither delays nor advances it)


@dataclass(frozen=True)
class ForgetPlan:
    keep: tuple[EmailedReminder, ...]  # emailed, their events not yet out: kept, event only
    drop: tuple[str, ...]  # every other entry: links and reminders not emailed, raw tokens with them

    @property
    def stays_due(self) -> bool:
        """An order with events still to publish stays on the timer until they are out."""
        return bool(self.keep)


@dataclass(frozen=True)
class StatusPlan:
    stale: bool  # older than the status known: changes nothing
    forget: ForgetPlan | None  # the order left pending_personalization


@dataclass(frozen=True)
class Forget:
    """The order is no longer pending personalization: no more email, ever."""


@dataclass(frozen=True)
class WaitUntil:
    at: datetime


@dataclass(frozen=True)
class ExpiredLink:
    link_id: str
    sequence: int
    expired_at: datetime


@dataclass(frozen=True)
class IssueLink:
    request: PersonalizationRequested  # what the link is for
    sequence: int
    issued_at: datetime
    expires: datetime
    remind_at: tuple[float, ...]  # epoch seconds, earliest first
    replaces: ExpiredLink | None  # the link it replaces when that one expired (a fresh link on request: None)


@dataclass(frozen=True)
class SendReminder:
    live: LiveLink  # the link it reminds of
    number: int  # from 1; overdue ones before it are skipped, so one email goes out, not a burst
    last: bool  # no reminder of this link comes after it


@dataclass(frozen=True)
class EndReminders:
    """Reminders are due but there is no link to send them with (one issued before reminders existed)."""

    count: int


Step = Forget | WaitUntil | IssueLink | SendReminder | EndReminders


def is_newest(state: LinkState, at: datetime) -> bool:
    return state.status_at is None or micros(at) >= state.status_at


def wants_fresh_link(state: LinkState, request: PersonalizationRequested) -> bool:
    return request.trigger == "resend_requested" or (request.trigger == "items_changed" and state.seq > 0)


def on_request(state: LinkState, request: PersonalizationRequested, now: datetime) -> RequestPlan:
    fresh = wants_fresh_link(state, request)
    return RequestPlan(
        marks_pending=is_newest(state, request.occurred_at),
        fresh_link=fresh,
        wake_at=now if fresh else request.notify_after,
        keep_timer=not fresh,
    )


def forget(state: LinkState) -> ForgetPlan:
    keep = tuple(entry for entry in state.outbox if isinstance(entry, EmailedReminder))
    drop = tuple(entry.id for entry in state.outbox if not isinstance(entry, EmailedReminder))
    return ForgetPlan(keep=keep, drop=drop)


def on_status(state: LinkState, change: OrderStatusChanged) -> StatusPlan:
    if not is_newest(state, change.occurred_at):
        return StatusPlan(stale=True, forget=None)
    return StatusPlan(stale=False, forget=forget(state) if change.to_status.value != PP else None)


def is_over(state: LinkState) -> bool:
    return state.status != PP or state.request is None


def wakeup(state: LinkState) -> datetime:
    """The next reminder still to send, or else the live link's expiry."""
    return next_wakeup(state.remind_at, state.reminded, state.expires)


def expired_link(state: LinkState, now: datetime) -> ExpiredLink | None:
    if not (state.seq and state.link_id and state.expires <= now.timestamp()):
        return None
    return ExpiredLink(state.link_id, state.seq, datetime.fromtimestamp(state.expires, UTC))


def next_step(state: LinkState, now: datetime, link_ttl: timedelta) -> Step:
    """What to do for an order whose time came (its outbox already out)."""
    request = state.request
    if state.status != PP or request is None:
        return Forget()
    if state.seq == 0 and not state.force and now < request.notify_after:
        return WaitUntil(request.notify_after)
    if state.force or state.seq == 0 or state.expires <= now.timestamp():
        expires = now + link_ttl
        remind_at = tuple(reminder_times(now, expires, request.delivery.reminders))
        return IssueLink(request, state.seq + 1, now, expires, remind_at, replaces=expired_link(state, now))
    number = due_reminder(state.remind_at, state.reminded, now)
    if number is None:
        return WaitUntil(wakeup(state))
    if state.live is None:
        return EndReminders(len(state.remind_at))
    return SendReminder(state.live, number, last=number >= len(state.remind_at))


def reminder_outdated(entry: QueuedReminder, state: LinkState, now: datetime) -> bool:
    """Its link was replaced, a fresh one is wanted, or it expired before the reminder could go out."""
    return entry.sequence != state.seq or state.force or state.expires <= now.timestamp()
