"""`personalize notifier` with a real broker, Redis and SMTP server, driven through the topics."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from devstack.mailcatcher import MailCatcher
from schemas import OrderStatus, StoreDisconnected
from tests.notifier.conftest import HOOK_SECRET, notifier_env
from tests.notifier.helpers import links, mails_for, request, status, wait_links, wait_mails
from tests.support import ServiceProcess, send, unique_id

pytestmark = pytest.mark.integration  # starts servers or service processes of its own


async def test_the_link_waits_for_notify_after_then_one_email_goes_to_the_merchant(notifier, servers, bus):
    mail, recorder = servers["mail"], bus["recorder"]
    wanted = request(delay_s=2.5)
    await send(bus["producer"], wanted)
    await asyncio.sleep(1.5)
    assert mails_for(mail, wanted.order_number) == []
    (message,) = await wait_mails(mail, wanted.order_number, 1)
    sent_at = datetime.now(UTC)
    assert sent_at >= wanted.notify_after
    assert message["To"] == "manual@example.com"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    (link,) = await wait_links(recorder, wanted.order_key, 1)
    assert link.sequence == 1 and link.url in text and link.url in html
    token = link.url.rsplit("/p/", 1)[1]
    assert link.url.startswith("https://personalize.example.com/p/") and len(token) >= 43
    assert "Name mug <b>XL</b> × 2" in text and "Name mug &lt;b&gt;XL&lt;/b&gt; × 2" in html  # autoescaped
    assert "forward" in text.lower() and f"{link.expires_at:%B} {link.expires_at.day}, {link.expires_at:%Y}" in text
    assert link.recipient == "merchant"
    assert link.expires_at - link.occurred_at == timedelta(seconds=4)


async def test_an_expired_link_is_reissued_while_pending_and_nothing_is_sent_after_completion(notifier, servers, bus):
    mail, recorder = servers["mail"], bus["recorder"]
    wanted = request(delay_s=0.5)
    await send(bus["producer"], wanted)
    await wait_mails(mail, wanted.order_number, 2, timeout=30)  # the first, then the re-issue 4 s later
    issued = await wait_links(recorder, wanted.order_key, 2)
    assert [link.sequence for link in issued] == [1, 2] and issued[0].url != issued[1].url
    await send(bus["producer"], status(wanted.order_key, OrderStatus.PENDING_APPROVAL))
    await asyncio.sleep(6)
    assert len(mails_for(mail, wanted.order_number)) == 2
    assert len(links(recorder, wanted.order_key)) == 2


async def test_a_redelivered_request_sends_one_email(notifier, servers, bus):
    wanted = request(delay_s=0.5)
    await send(bus["producer"], wanted, wanted, wanted)
    await wait_mails(servers["mail"], wanted.order_number, 1)
    await asyncio.sleep(2)
    assert len(mails_for(servers["mail"], wanted.order_number)) == 1


async def test_an_order_cancelled_during_the_wait_gets_no_email(notifier, servers, bus):
    wanted = request(delay_s=2)
    await send(bus["producer"], wanted)
    await send(bus["producer"], status(wanted.order_key, OrderStatus.CANCELLED))
    await asyncio.sleep(4)
    assert mails_for(servers["mail"], wanted.order_number) == []
    assert links(bus["recorder"], wanted.order_key) == []


async def test_resend_issues_a_fresh_link_at_once(notifier, servers, bus):
    first = request(delay_s=0.2)
    await send(bus["producer"], first)
    await wait_mails(servers["mail"], first.order_number, 1)
    resend = request(delay_s=0, number=first.order_number, trigger="resend_requested")
    await send(bus["producer"], resend)
    await wait_mails(servers["mail"], first.order_number, 2, timeout=3)
    assert [link.sequence for link in await wait_links(bus["recorder"], first.order_key, 2)] == [1, 2]


async def test_a_notifier_killed_during_the_wait_still_sends_once_on_time(notifier, servers, bus):
    wanted = request(delay_s=3)
    await send(bus["producer"], wanted)
    await asyncio.sleep(1)
    notifier.kill()
    await asyncio.sleep(1)
    notifier.start()
    await wait_mails(servers["mail"], wanted.order_number, 1, timeout=30)
    await asyncio.sleep(2)
    assert len(mails_for(servers["mail"], wanted.order_number)) == 1


async def test_two_notifiers_send_each_email_once(notifier, servers, bus):
    second = ServiceProcess(["notifier"], notifier_env(servers), servers["state"] / "notifier-2.log")
    second.start()
    try:
        await asyncio.sleep(4)  # let it join the group and share the partitions
        wanted = [request(delay_s=1.5) for _ in range(12)]
        await send(bus["producer"], *wanted)
        for one in wanted:
            await wait_mails(servers["mail"], one.order_number, 1)
        await asyncio.sleep(2)
        # Counted per link: on a slow machine the first 4 s links may already be re-issued, legitimately.
        firsts = [(await wait_links(bus["recorder"], one.order_key, 1))[0] for one in wanted]
        assert [
            sum(m["Message-ID"] == f"<{link.link_id}@personalize>" for m in servers["mail"].messages) for link in firsts
        ] == [1] * 12
    finally:
        await asyncio.to_thread(second.stop)


async def test_an_smtp_outage_delays_the_email_and_never_drops_or_doubles_it(servers, bus, config_path, tmp_path):
    from devstack.embedded import free_port

    port = free_port()
    # A notifier of its own (group, Redis database, a TTL longer than the outage) so only it acts here.
    env = notifier_env(
        servers,
        smtp_url=f"smtp://127.0.0.1:{port}",
        PERSONALIZE_NOTIFIER_GROUP=f"outage-{unique_id()}",
        PERSONALIZE_LINK_TTL="5m",
        PERSONALIZE_REDIS_URL=f"redis://{servers['redis'].address}/1",
    )
    down = ServiceProcess(["notifier"], env, tmp_path / "outage.log")
    down.start()
    late = MailCatcher(tmp_path / "late-mail", port=port)
    try:
        wanted = request(delay_s=0.5)
        await send(bus["producer"], wanted)
        deadline = asyncio.get_running_loop().time() + 40
        while not re.search(r"not sent .* retry", down.log_path.read_text()):  # nothing listens: it backs off
            assert asyncio.get_running_loop().time() < deadline, down.log_tail()
            await asyncio.sleep(0.2)
        assert mails_for(late, wanted.order_number) == []
        late.start()
        await wait_mails(late, wanted.order_number, 1, timeout=40)
        await asyncio.sleep(2)
        assert len(mails_for(late, wanted.order_number)) == 1
    finally:
        await asyncio.to_thread(down.stop)
        late.stop()


async def test_automation_webhooks_carry_the_link_signed_per_standard_webhooks_and_retry(notifier, servers, bus, hooks):
    receiver, _ = hooks
    wanted = request(delay_s=0.2)
    await send(bus["producer"], wanted)
    (link,) = await wait_links(bus["recorder"], wanted.order_key, 1)
    deadline = asyncio.get_running_loop().time() + 20
    while not any(
        link.event_id == h.get("webhook-id") and b"PersonalizationLinkIssued" in body
        for h, body in receiver.received[receiver.fail_first :]
    ):
        assert asyncio.get_running_loop().time() < deadline, receiver.received
        await asyncio.sleep(0.2)
    headers, body = next(
        (h, b) for h, b in receiver.received[receiver.fail_first :] if h["webhook-id"] == link.event_id
    )
    assert json.loads(body)["url"] == link.url  # a Zapier-like flow can forward it as is
    # Verified here with hmac, independently of the library the notifier signs with.
    key = base64.b64decode(HOOK_SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert f"v1,{expected}" in headers["webhook-signature"].split(" ")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    # The first delivery got a 500 and was retried with the same webhook-id.
    assert receiver.received[0][0]["webhook-id"] in {h["webhook-id"] for h, _ in receiver.received[1:]}


async def test_a_customer_store_emails_the_buyer_in_their_language_under_the_store_brand(notifier, servers, bus):
    wanted = request(
        delay_s=0.2,
        recipient="customer",
        customer_email="ada@example.com",
        customer_name="Ada",
        locale="de-AT",
        sender_name="Tassen & Co",
        reply_to="hilfe@tassen.example",
        logo_url="https://cdn.tassen.example/logo.png",
    )
    await send(bus["producer"], wanted)
    (message,) = await wait_mails(servers["mail"], wanted.order_number, 1)
    (link,) = await wait_links(bus["recorder"], wanted.order_key, 1)
    assert link.recipient == "customer"
    assert message["To"].addresses[0].addr_spec == "ada@example.com"
    assert (message["From"].addresses[0].display_name, message["From"].addresses[0].addr_spec) == (
        "Tassen & Co",
        "personalize@localhost",
    )
    assert message["Reply-To"] == "hilfe@tassen.example"
    assert message["Subject"] == f"Personalisieren Sie Ihre Bestellung {wanted.order_number}"
    text, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    assert text.startswith("Hallo Ada,") and link.url in text and link.url in html
    assert '<img src="https://cdn.tassen.example/logo.png"' in html and "logo" not in text
    await send(bus["producer"], status(wanted.order_key, OrderStatus.CANCELLED))


async def test_an_etsy_order_for_a_customer_store_goes_to_the_merchant_to_paste_into_etsy_messages(
    notifier, servers, bus
):
    wanted = request(delay_s=0.2, platform="etsy", recipient="customer", customer_name="Ada")
    await send(bus["producer"], wanted)
    (message,) = await wait_mails(servers["mail"], wanted.order_number, 1)
    (link,) = await wait_links(bus["recorder"], wanted.order_key, 1)
    assert link.recipient == "merchant" and message["To"] == "manual@example.com"
    text = message.get_body(("plain",)).get_content()
    assert "Etsy does not share this buyer's email address" in text and "Etsy Messages" in text
    pasted = text.split("-------- copy from here --------\n")[1].split("-------- copy up to here")[0]
    assert pasted.startswith("Hello Ada,") and link.url in pasted
    await send(bus["producer"], status(wanted.order_key, OrderStatus.CANCELLED))


async def test_a_disconnected_store_announced_twice_gets_its_merchant_one_email(notifier, servers, bus):
    mail, store_id = servers["mail"], f"gone{unique_id()}"
    at = datetime.now(UTC)

    def disconnected(reason: str) -> StoreDisconnected:
        return StoreDisconnected(
            order_key=f"etsy:{store_id}",
            platform="etsy",
            store_id=store_id,
            reason=reason,
            merchant_email="maker@example.com",
            disconnected_at=at,
        )

    await send(bus["producer"], disconnected("Etsy refused the grant (invalid_grant)"), disconnected("again"))
    (message,) = await wait_mails(mail, store_id, 1)
    assert message["To"] == "maker@example.com"
    assert "Etsy refused the grant (invalid_grant)" in message.get_body(("plain",)).get_content()
    await asyncio.sleep(2)
    assert len(mails_for(mail, store_id)) == 1
