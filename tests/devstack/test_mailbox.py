"""The dev mailbox page: the list, each message's HTML and text parts. It once failed to build on a newer
FastAPI (a union return annotation) and `dev` ran on without it; these build it as `dev` does."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from devstack.mailcatcher import MailCatcher, mailbox_app

pytestmark = pytest.mark.integration  # a real SMTP server on loopback


@pytest.fixture
def catcher(tmp_path: Path):
    mail = MailCatcher(tmp_path / "mail").start()
    yield mail
    mail.stop()


def send(catcher: MailCatcher, subject: str, text: str, html: str | None = None) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "shop@example.com", "merchant@example.com", subject
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP("127.0.0.1", catcher.port) as smtp:
        smtp.send_message(message)


async def get(catcher: MailCatcher, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=mailbox_app(catcher))
    async with httpx.AsyncClient(transport=transport, base_url="http://mailbox") as client:
        return await client.get(path)


async def test_the_list_names_every_message_and_links_both_parts(catcher):
    send(catcher, "Personalize order 1001", "open https://x/p/1", "<p><a href='https://x/p/1'>open</a></p>")
    send(catcher, "Order <2> & more", "plain only")
    catcher.wait_for(2)
    page = await get(catcher, "/")
    assert page.status_code == 200 and "Mailbox (2)" in page.text
    assert 'href="/1"' in page.text and 'href="/2/text"' in page.text
    assert "Order &lt;2&gt; &amp; more" in page.text  # subjects are escaped


async def test_a_message_shows_its_html_part_and_its_text_part_on_its_own_page(catcher):
    send(catcher, "Personalize order 1001", "open https://x/p/1", "<p><a href='https://x/p/1'>open</a></p>")
    catcher.wait_for(1)
    html, text = await get(catcher, "/1"), await get(catcher, "/1/text")
    assert html.headers["content-type"].startswith("text/html") and "<a href='https://x/p/1'>" in html.text
    assert text.headers["content-type"].startswith("text/plain") and "open https://x/p/1" in text.text


async def test_a_text_only_message_shows_its_text_and_an_unknown_number_is_404(catcher):
    send(catcher, "plain", "just text")
    catcher.wait_for(1)
    assert (await get(catcher, "/1")).text.strip() == "just text"
    missing = await get(catcher, "/2")
    assert missing.status_code == 404 and "holds 1" in missing.text
    assert (await get(catcher, "/0/text")).status_code == 404
