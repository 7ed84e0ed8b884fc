"""What the notifier knows of one order's link: typed, read whole, decided on by `notifier/policy.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from notifier.entries import OutboxEntry, StoredOutbox
from schemas import LinkDelivery, PersonalizationLinkIssued, PersonalizationRequested

PP = "pending_personalization"


def micros(moment: datetime) -> int:
    """A status fact's time as stored: whole microseconds, so two facts compare exactly."""
    return int(moment.timestamp() * 1_000_000)


@dataclass(frozen=True)
class LiveLink:
    """The link itself, token and all, kept only while some of its reminders are still to come."""

    link: PersonalizationLinkIssued
    delivery: LinkDelivery


@dataclass(frozen=True)
class LinkState:
    """One order: its latest request and status, its last link, the reminders of that link, its outbox."""

    status: str | None = None
    status_at: int | None = None  # micros of the status fact (request or status change) that set `status`
    request: PersonalizationRequested | None = None
    seq: int = 0  # the last link's sequence; 0 = no link yet
    expires: float = 0.0  # the last link's expiry, epoch seconds
    force: bool = False  # a fresh link is wanted now (a resend, or changed items after a link went out)
    smtp_failures: int = 0
    link_id: str | None = None
    remind_at: tuple[float, ...] = ()  # epoch seconds of the last link's reminders, earliest first
    reminded: int = 0  # how many of them are done
    live: LiveLink | None = None
    outbox: tuple[OutboxEntry, ...] = ()  # issued links and queued reminders not out yet, oldest first
    # The outbox as stored (entry id, JSON): how a store tells later whether it changed since this read.
    outbox_as_stored: StoredOutbox = field(default=(), compare=False, repr=False)

    @property
    def pending(self) -> bool:
        return self.status == PP
