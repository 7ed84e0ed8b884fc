"""When a link's reminders fall due: pure functions of the link's times and the store's schedule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta


def reminder_times(issued: datetime, expires: datetime, offsets: Iterable[timedelta]) -> list[float]:
    """Epoch seconds of each reminder, earliest first; one at or after the expiry would point at a dead link."""
    return sorted(
        {(issued + offset).timestamp() for offset in offsets if offset > timedelta(0) and issued + offset < expires}
    )


def due_reminder(remind_at: Sequence[float], reminded: int, now: datetime) -> int | None:
    """The number (from 1) of the latest reminder due and not yet sent.

    After an outage several may be overdue: one email goes out, numbered as the
    latest, rather than a burst of them at once.
    """
    due = [number for number, at in enumerate(remind_at, start=1) if number > reminded and at <= now.timestamp()]
    return due[-1] if due else None


def next_wakeup(remind_at: Sequence[float], reminded: int, expires: float) -> datetime:
    """The next reminder still to send, or else the expiry."""
    return datetime.fromtimestamp(min([expires, *remind_at[reminded : reminded + 1]]), UTC)
