"""Reminders and expiry events from two `personalize notifier` copies sharing one Redis, through the topics.

Links live 8 s here (a minute in the restart test); reminders come 1-5 s
after a link. Two copies run the whole module, so every "once" below holds
across copies, not just within one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from devstack.mailcatcher import MailCatcher
from schemas import OrderStatus, PersonalizationLinkExpired, PersonalizationReminderSent
from tests.notifier.conftest import notifier_env
from tests.notifier.helpers import distinct, mails_for, request, status, wait_links, wait_mails
from tests.support import Recorder, ServiceProcess, send

pytestmark = pytest.mark.integration  # starts servers or service processes of its own

S = timedelta(seconds=1)


@pytest.fixture(scope="module")
async def pair(servers: dict, bus: dict, config_path: Path) -> AsyncIterator[list[ServiceProcess]]:
    env = notifier_env(servers, PERSONALIZE_LINK_TTL="8s")
    copies = [ServiceProcess(["notifier"], env, servers["state"] / f"notifier-{name}.log") for name in "ab"]
    for copy in copies:
        copy.start()
    yield copies
    for copy in copies:
        assert await asyncio.to_thread(copy.stop) == 0, copy.log_tail()


def reminder_mails(mail: MailCatcher, number: str) -> list:
    return [m for m in mails_for(mail, number) if "reminder" in m["Subject"]]


async def wait_events(recorder: Recorder, order_key: str, event_type: type, count: int) -> list:
    await recorder.wait_for(order_key, lambda _: len(distinct(recorder, order_key, event_type)) >= count)
    return distinct(recorder, order_key, event_type)


async def test_reminders_go_out_in_order_then_the_expired_link_is_replaced_once(pair, servers, bus, hooks):
    mail, recorder = servers["mail"], bus["recorder"]
    wanted = request(delay_s=0.2, reminders=[3 * S, S])
    await send(bus["producer"], wanted)
    first, one, two = await wait_mails(mail, wanted.order_number, 3)
    (link,) = await wait_links(recorder, wanted.order_key, 1)
    assert first["Subject"] == f"Order {wanted.order_number}: personalization link for your customer"
    assert [m["Subject"] for m in (one, two)] == [
        f"Order {wanted.order_number}: reminder, your customer has not personalized yet"
    ] * 2
    assert [m["Message-ID"] for m in (one, two)] == [f"<{link.link_id}.reminder-{n}@personalize>" for n in (1, 2)]
    assert all(link.url in m.get_body(("plain",)).get_content() for m in (one, two))

    sent = await wait_events(recorder, wanted.order_key, PersonalizationReminderSent, 2)
    assert [(e.reminder, e.link_id, e.sequence, e.recipient) for e in sent] == [
        (1, link.link_id, 1, "merchant"),
        (2, link.link_id, 1, "merchant"),
    ]
    assert sent[0].occurred_at >= link.occurred_at + S and sent[1].occurred_at >= link.occurred_at + 3 * S
    assert all(e.expires_at == link.expires_at for e in sent)

    await wait_links(recorder, wanted.order_key, 2)  # the 8 s link expired unused
    (expired,) = await wait_events(recorder, wanted.order_key, PersonalizationLinkExpired, 1)
    assert (expired.link_id, expired.sequence, expired.order_number) == (link.link_id, 1, wanted.order_number)
    assert abs(expired.expired_at - link.expires_at) < timedelta(milliseconds=1)
    reissued = (await wait_mails(mail, wanted.order_number, 4))[3]
    assert "new personalization link" in reissued["Subject"]
    assert "expired before your customer used it" in reissued.get_body(("plain",)).get_content()
    await asyncio.sleep(2)
    assert len(recorder.events(wanted.order_key, PersonalizationLinkExpired)) == 1  # not even a re-publish
    assert [
        e.reminder
        for e in distinct(recorder, wanted.order_key, PersonalizationReminderSent)
        if e.link_id == link.link_id
    ] == [1, 2]
    await send(bus["producer"], status(wanted.order_key, OrderStatus.CANCELLED))

    # The merchant's automation hears of both, signed like every event.
    receiver, _ = hooks
    wanted_ids = {sent[0].event_id, sent[1].event_id, expired.event_id}
    deadline = asyncio.get_running_loop().time() + 20
    while not wanted_ids <= {h["webhook-id"] for h, _ in receiver.received[receiver.fail_first :]}:
        assert asyncio.get_running_loop().time() < deadline, [h["webhook-id"] for h, _ in receiver.received]
        await asyncio.sleep(0.2)
    body = next(json.loads(b) for h, b in receiver.received if h["webhook-id"] == sent[0].event_id)
    assert body["event_type"] == "PersonalizationReminderSent" and body["reminder"] == 1
    assert body["link_id"] == link.link_id


async def test_no_reminder_once_the_order_is_completed(pair, servers, bus):
    wanted = request(delay_s=0.2, reminders=[2 * S, 3 * S])
    await send(bus["producer"], wanted)
    await wait_mails(servers["mail"], wanted.order_number, 1)
    await send(bus["producer"], status(wanted.order_key, OrderStatus.PENDING_APPROVAL))
    await asyncio.sleep(4)
    assert len(mails_for(servers["mail"], wanted.order_number)) == 1
    assert bus["recorder"].events(wanted.order_key, PersonalizationReminderSent) == []


async def test_a_replaced_link_gets_no_reminder_and_its_replacement_gets_its_own(pair, servers, bus):
    mail, recorder = servers["mail"], bus["recorder"]
    wanted = request(delay_s=0.2, reminders=[2 * S])
    await send(bus["producer"], wanted)
    await wait_mails(mail, wanted.order_number, 1)
    await send(
        bus["producer"], request(delay_s=0, number=wanted.order_number, trigger="resend_requested", reminders=[2 * S])
    )
    _, second = await wait_links(recorder, wanted.order_key, 2)
    (reminded,) = await wait_events(recorder, wanted.order_key, PersonalizationReminderSent, 1)
    assert (reminded.link_id, reminded.sequence) == (second.link_id, 2)
    await asyncio.sleep(1.5)
    assert len(reminder_mails(mail, wanted.order_number)) == 1
    assert recorder.events(wanted.order_key, PersonalizationLinkExpired) == []  # replaced, not expired
    await send(bus["producer"], status(wanted.order_key, OrderStatus.CANCELLED))


async def test_reminders_survive_a_restart_of_every_copy_and_go_out_once(pair, servers, bus):
    mail, recorder = servers["mail"], bus["recorder"]
    # Links live a minute from here on: a slow restart on a loaded machine must not outlast the link.
    for copy in pair:
        copy.kill()
        copy.env = notifier_env(servers, PERSONALIZE_LINK_TTL="60s")
        copy.start()
    wanted = request(delay_s=0.2, reminders=[S, 5 * S])
    await send(bus["producer"], wanted)
    await wait_mails(mail, wanted.order_number, 2, timeout=60)
    (link,) = await wait_links(recorder, wanted.order_key, 1)
    # A kill between the SMTP server's 250 and the next Redis write is the one window for a second email
    # (docs/emails.md); this test is about the durable schedule, so it kills after that write.
    await asyncio.sleep(0.5)
    for copy in pair:
        copy.kill()
    for copy in pair:
        copy.start()
    deadline = asyncio.get_running_loop().time() + 50
    while len(reminder_mails(mail, wanted.order_number)) < 2:
        assert asyncio.get_running_loop().time() < deadline, [c.log_tail() for c in pair]
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)
    assert [m["Message-ID"] for m in reminder_mails(mail, wanted.order_number)] == [
        f"<{link.link_id}.reminder-{n}@personalize>" for n in (1, 2)
    ]
    sent = await wait_events(recorder, wanted.order_key, PersonalizationReminderSent, 2)
    assert [e.reminder for e in sent] == [1, 2]
    await send(bus["producer"], status(wanted.order_key, OrderStatus.CANCELLED))
