"""Sending mail: SMTP through aiosmtplib in production, a list in fast tests; one small contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

SMTP_TIMEOUT_S = 20.0


class MailSender(Protocol):
    async def send(self, message: EmailMessage) -> None:
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
    password: str | None = None


def parse_smtp_url(url: str, username: str | None = None, password: str | None = None) -> SmtpTarget:
    """`smtp://[user:pass@]host:port[?starttls=true]` or `smtps://…` (implicit TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"PERSONALIZE_SMTP_URL must look like smtp://host:port or smtps://host:port, not {url!r}")
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
    def __init__(self, target: SmtpTarget) -> None:
        self._target = target

    async def send(self, message: EmailMessage) -> None:
        t = self._target
        try:
            await aiosmtplib.send(
                message, hostname=t.host, port=t.port, use_tls=t.implicit_tls, start_tls=t.starttls or None,
                username=t.username, password=t.password, timeout=SMTP_TIMEOUT_S,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            raise MailError(f"{t.host}:{t.port}: {type(error).__name__}: {error}") from error


@dataclass
class MemorySender:
    sent: list[EmailMessage] = field(default_factory=list)
    failing: bool = False

    async def send(self, message: EmailMessage) -> None:
        if self.failing:
            raise MailError("memory sender set to fail")
        self.sent.append(message)
