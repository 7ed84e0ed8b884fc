"""Sending mail: SMTP through aiosmtplib in production, a list in fast tests; one small contract."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email.message import Message
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

SMTP_TIMEOUT_S = 20.0


class MailSender(Protocol):
    async def send(self, message: Message) -> None:
        """Raise MailError when the server did not take the message."""
        ...


class MailError(Exception):
    """The mail server is unreachable or refused the message: retry later, never drop."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # a target in a message must not carry it


def parse_smtp_url(url: str, username: str | None = None, password: str | None = None) -> SmtpTarget:
    """`smtp://[user:pass@]host:port[?starttls=true]` or `smtps://…` (implicit TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        shown = url.replace(f":{parts.password}@", ":***@") if parts.password else url  # the message is printed
        raise ValueError(f"PERSONALIZE_SMTP_URL must look like smtp://host:port or smtps://host:port, not {shown!r}")
    query = parse_qs(parts.query)
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if parts.scheme == "smtps" else 25),
        implicit_tls=parts.scheme == "smtps",
        starttls=query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"),
        username=username or (unquote(parts.username) if parts.username else None),
        password=password or (unquote(parts.password) if parts.password else None),
    )


class SmtpSender:
    """A few persistent SMTP connections, reused: one connection per email capped the notifier near 80/s."""

    def __init__(self, target: SmtpTarget, connections: int = 8) -> None:
        self._target = target
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(connections)

    async def send(self, message: Message) -> None:
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            if client is not None:
                try:
                    await client.send_message(message)
                    self._idle.append(client)
                    return
                except (aiosmtplib.SMTPException, OSError):
                    client.close()  # the server dropped an idle connection: try once on a fresh one
            try:
                client = await self._connect()
                await client.send_message(message)
            except (aiosmtplib.SMTPException, OSError) as error:
                raise MailError(f"{self._target.host}:{self._target.port}: {type(error).__name__}: {error}") from error
            self._idle.append(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        t = self._target
        client = aiosmtplib.SMTP(
            hostname=t.host, port=t.port, use_tls=t.implicit_tls, start_tls=t.starttls or None, timeout=SMTP_TIMEOUT_S
        )
        await client.connect()
        if t.username and t.password:
            await client.login(t.username, t.password)
        return client

    async def aclose(self) -> None:
        for client in self._idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        self._idle.clear()


@dataclass
class MemorySender:
    sent: list[Message] = field(default_factory=list)
    failing: bool = False

    async def send(self, message: Message) -> None:
        if self.failing:
            raise MailError("memory sender set to fail")
        self.sent.append(message)
