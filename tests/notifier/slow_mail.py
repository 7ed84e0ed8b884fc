"""A real SMTP server (aiosmtpd) that answers each message's DATA only after a delay: a slow mail provider."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections import Counter
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.embedded import LOOPBACK, free_port
from notifier.mail import SmtpTarget


class _SlowKeeper:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay_s)  # each session its own: messages on other connections go on meanwhile
        assert isinstance(envelope.content, bytes)
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


class SlowMailServer:
    def __init__(self, delay_s: float) -> None:
        self.port = free_port()
        self._keeper = _SlowKeeper(delay_s)
        self._controller = Controller(self._keeper, hostname=LOOPBACK, port=self.port)

    @property
    def target(self) -> SmtpTarget:
        return SmtpTarget(host=LOOPBACK, port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self._keeper.messages)

    def per_message_id(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.messages)

    def __enter__(self) -> SlowMailServer:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()
