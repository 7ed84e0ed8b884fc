"""The soak's faults on its own infrastructure: outages of one kind that overlap must all be made."""

from __future__ import annotations

import asyncio
import smtplib

import pytest

from soak.processes import MailCatcher, Stack

pytestmark = pytest.mark.integration  # starts servers or service processes of its own


def delivered(catcher: MailCatcher) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", catcher.port, timeout=5) as smtp:
            smtp.sendmail("a@example.com", ["b@example.com"], b"Subject: t\r\n\r\nbody\r\n")
        return True
    except OSError:
        return False


async def test_overlapping_mail_outages_keep_it_down_until_the_last_ends_and_bring_it_back_once(tmp_path):
    stack = Stack(tmp_path)
    stack.mail = MailCatcher(tmp_path / "mail")
    stack.mail.start()
    try:
        first = asyncio.create_task(stack.mail_down_for(0.4))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(stack.mail_down_for(1.0))
        await first  # the first outage ends while the second goes on
        assert not stack.mail.running and not await asyncio.to_thread(delivered, stack.mail)
        await second  # before the fix: a second server bound the port again, "address already in use"
        assert stack.mail.running and await asyncio.to_thread(delivered, stack.mail)
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
    finally:
        stack.mail.stop()
