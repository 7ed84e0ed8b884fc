"""A real SMTP server for dev and tests (aiosmtpd) that keeps every message as an `.eml` file.

`personalize dev` also serves them at an HTTP page (`mailbox_app`), so a newcomer sees the
merchant's email; the tests read `messages` directly.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from jinja2 import Environment, select_autoescape

from devstack.embedded import LOOPBACK, free_port


class _Keeper:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.messages: list[EmailMessage] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes), "bytes unless the server sets decode_data, which it does not"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.changed:
            self.messages.append(message)
            (self.folder / f"{len(self.messages):05d}.eml").write_bytes(envelope.content)
            self.changed.notify_all()
        return "250 OK"


class MailCatcher:
    def __init__(self, folder: Path, port: int | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self._keeper = _Keeper(folder)
        self._controller = Controller(self._keeper, hostname=LOOPBACK, port=self.port)
        self._running = False

    @property
    def url(self) -> str:
        return f"smtp://{LOOPBACK}:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self._keeper.messages)

    def start(self) -> MailCatcher:
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._controller.stop()
            self._running = False

    def wait_for(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._keeper.changed:
            while len(self._keeper.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self._keeper.messages)} message(s) after {timeout}s, wanted {count}")
                self._keeper.changed.wait(left)
            return list(self._keeper.messages)


_PAGE = Environment(autoescape=select_autoescape(default_for_string=True)).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mailbox</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 50rem; margin: auto">
<h1>Mailbox ({{ messages|length }})</h1>
<ol>{% for m in messages %}<li><a href="/{{ loop.index }}">{{ m['Subject'] }}</a> to {{ m['To'] }}
 (<a href="/{{ loop.index }}/text">text</a>)</li>{% endfor %}</ol>
</body></html>""")


def mailbox_app(catcher: MailCatcher) -> FastAPI:
    """`/` lists the messages, `/N` shows message N as its HTML part (its text part when it has none),
    `/N/text` its text part."""
    app = FastAPI(title="mailbox", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return _PAGE.render(messages=catcher.messages)

    @app.get("/{number}")
    async def one(number: int) -> Response:
        message = _numbered(catcher, number)
        html = message.get_body(("html",))
        if html is not None:
            return HTMLResponse(html.get_content())
        return _text_of(message)

    @app.get("/{number}/text")
    async def text(number: int) -> Response:
        return _text_of(_numbered(catcher, number))

    return app


def _numbered(catcher: MailCatcher, number: int) -> EmailMessage:
    messages = catcher.messages
    if not 1 <= number <= len(messages):
        raise HTTPException(404, f"no message {number}; the mailbox holds {len(messages)}")
    return messages[number - 1]


def _text_of(message: EmailMessage) -> Response:
    plain = message.get_body(("plain",))
    if plain is None:
        raise HTTPException(404, "this message has no text part")
    return PlainTextResponse(plain.get_content())
