"""What the soak gathered at the end: the system's state, the topics, the mailbox, the faults and the exits."""

from __future__ import annotations

from dataclasses import dataclass, field

from soak.faults import Done
from soak.ledger import OrderRun
from soak.observe import Read
from soak.processes import Exit


@dataclass
class Evidence:
    runs: list[OrderRun]
    store_prefixes: list[str]  # "<platform>:<store_id>:" of the soak's stores
    sandbox_ids: dict[str, set[str]]  # store prefix → every order id the sandbox holds now
    seeded_ids: dict[str, set[str]]  # store prefix → ids the sandbox started with
    core: dict[str, dict]  # order key → core's document
    due: set[str]  # order keys on the notifier's timer
    notifier_status: dict[str, str | None]  # order key → the notifier's view of its status
    outbox: dict[str, set[str]]  # order key → outbox entries not done: link ids, "<link id>:reminder-<n>"
    fulfillment: list[Read]
    received: list[Read]
    links: list[Read]
    later_link_ids: set[str]  # the link events read again after the mailbox
    activity: list[Read]
    dead_letters: list[Read]
    emails_by_link: dict[str, list[str]]
    reminder_emails: dict[tuple[str, int], list[str]]  # (link id, reminder) → files
    later_reminder_emails: set[tuple[str, int]]  # the mailbox scanned again after the activity events
    other_emails: list[tuple[str, str]]  # (file, Message-ID) of anything else
    stray_link_emails: list[str]
    faults: list[Done]
    exits: list[Exit]
    now: float  # time.time() when gathered
    drained: str  # how the drain ended
    stops: dict[str, tuple[float | None, int | None]] = field(default_factory=dict)  # SIGTERM → (seconds, code)
