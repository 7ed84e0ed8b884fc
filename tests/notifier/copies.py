"""Notifier scheduler copies for the many-copies stories: each its own owner, outbox, mail and (for Redis) client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message

from notifier.mail import MailSender
from notifier.outbox import Outbox
from notifier.render import EmailRenderer
from notifier.scheduler import LinkScheduler
from notifier.set_aside import MemorySetAside
from notifier.store import LinkStore
from tests.notifier.doubles import KeptProducer


class CountingSender:
    """A copy's mail: what it handed to the real sender, counted by Message-ID."""

    def __init__(self, real: MailSender) -> None:
        self.real = real
        self.sent: list[str] = []

    async def send(self, message: Message) -> None:
        await self.real.send(message)
        self.sent.append(str(message["Message-ID"]))


@dataclass
class Copy:
    name: str
    scheduler: LinkScheduler
    mail: CountingSender
    parked: MemorySetAside


def a_copy(
    name: str,
    store: LinkStore,
    mail: MailSender,
    clock: Callable[[], datetime],
    *,
    lease_s: float,
    tick_s: float = 0.05,
) -> Copy:
    counted, parked = CountingSender(mail), MemorySetAside()
    outbox = Outbox(store, KeptProducer(), counted, EmailRenderer(), mail_from="P <p@example.com>", clock=clock)
    scheduler = LinkScheduler(
        store,
        outbox,
        public_url="https://p.example",
        link_ttl=timedelta(hours=1),  # no link expires within a story: each order gets one email
        clock=clock,
        set_aside=parked,
        tick_s=tick_s,
        lease_s=lease_s,
        owner=name,
    )
    return Copy(name, scheduler, counted, parked)
