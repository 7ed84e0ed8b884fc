"""A changed store address through the API, end to end: `personalize api`, `personalize core` and
`personalize notifier` as processes, the confirmation link read from the mail catcher and opened.

Replays the finding "changed addresses are not verified": a store key (say, a stolen one) sets
`merchant_email` to another address; until someone there opens the link, every email, and core's
requests, still name the old one.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis.asyncio import Redis

from core.directory import Directory
from devstack.mailcatcher import MailCatcher
from merchant_api.email_change import PREFIX
from plumbing.config import load_config
from schemas import PersonalizationRequested
from tests.builders import mug, order
from tests.merchant_api.conftest import CONFIG, A, Stack, name, placed, published
from tests.support import ServiceProcess, unique_id

LINK = re.compile(r"https?://\S+/settings/email-change/(merchant_email|reply_to)/\S+")


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailCatcher]:
    catcher = MailCatcher(tmp_path_factory.mktemp("email-change-mail")).start()
    yield catcher
    catcher.stop()


@pytest.fixture(scope="module")
async def notifier(stack: Stack, mail: MailCatcher, tmp_path_factory) -> AsyncIterator[ServiceProcess]:
    env = {**stack.env, "PERSONALIZE_SMTP_URL": mail.url}
    service = ServiceProcess(["notifier"], env, tmp_path_factory.mktemp("email-change-logs") / "notifier.log")
    service.start()
    yield service
    assert await asyncio.to_thread(service.stop) == 0, service.log_tail()


@pytest.fixture
async def store_a_restored(stack: Stack) -> AsyncIterator[None]:
    """Store A's addresses as the YAML has them, after the test, whatever happened (the API would ask to confirm)."""
    yield
    redis = Redis.from_url(stack.redis_url)
    try:
        seed = load_config(CONFIG).store(*A)
        await Directory(redis, load_config(CONFIG)).update_settings(
            *A, lambda now: now.model_copy(update={"merchant_email": seed.merchant_email, "reply_to": seed.reply_to})
        )
    finally:
        await redis.aclose()


async def mails_to(mail: MailCatcher, address: str, count: int = 1):
    deadline = asyncio.get_running_loop().time() + 30
    while len(found := [m for m in mail.messages if m["To"] == address]) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(found)} mail(s) to {address}, wanted {count}"
        await asyncio.sleep(0.1)
    return found


def link_in(message) -> str:
    found = LINK.search(message.get_body(("plain",)).get_content())
    assert found, message.get_body(("plain",)).get_content()
    return found.group(0)


async def requested_for(stack: Stack, store) -> PersonalizationRequested:
    received = await placed(stack, order(store, [mug()]), "pending_personalization")
    (request,) = await published(stack, received.order_key, PersonalizationRequested)
    return request


async def test_a_changed_merchant_email_is_not_used_until_the_new_address_confirms_it(
    stack, notifier, mail, store_a_restored
):
    path, new = f"/stores/{name(A)}/settings", f"new-{unique_id()}@example.net"
    async with stack.client(A) as client, httpx.AsyncClient(timeout=15) as browser:
        before = (await client.get(path)).json()
        answer = await client.put(path, json={**before, "merchant_email": new, "locale": "de"})
        assert answer.status_code == 202, answer.text
        assert answer.json()["merchant_email"] == "a@example.com" and answer.json()["locale"] == "de"
        assert (await client.get(path)).json()["merchant_email"] == "a@example.com"
        assert (await requested_for(stack, A)).merchant_email == "a@example.com"  # the old address is still used

        (confirm,) = await mails_to(mail, new)
        (notice,) = await mails_to(mail, "a@example.com")
        url = link_in(confirm)
        token = url.rsplit("/", 1)[1]
        assert url.startswith(f"{stack.url}/stores/{name(A)}/settings/email-change/merchant_email/")
        assert new in notice.get_body(("plain",)).get_content() and token not in notice.as_string()
        stored = await _stored(stack, "merchant_email")
        assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored

        wrong = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
        assert (await browser.get(wrong)).status_code == 404 and (await browser.post(wrong)).status_code == 404
        assert (await client.get(path)).json()["merchant_email"] == "a@example.com"

        # Opening the link (a mail scanner does) only asks: no API key, the link is the proof, the button applies.
        opened = await browser.get(url)
        assert opened.status_code == 200 and new in opened.text and '<form method="post">' in opened.text
        assert opened.headers["Referrer-Policy"] == "no-referrer" and opened.headers["Cache-Control"] == "no-store"
        assert (await client.get(path)).json()["merchant_email"] == "a@example.com"
        confirmed = await browser.post(url)
        assert confirmed.status_code == 200 and "Address confirmed" in confirmed.text
        assert (await client.get(path)).json()["merchant_email"] == new
        assert (await requested_for(stack, A)).merchant_email == new

        assert (await browser.post(url)).status_code == 404  # used once
        assert (await browser.get(url)).status_code == 404


async def test_a_changed_reply_to_waits_for_confirmation_and_removing_it_applies_at_once(
    stack, notifier, mail, store_a_restored
):
    path, new = f"/stores/{name(A)}/settings", f"help-{unique_id()}@example.net"
    async with stack.client(A) as client, httpx.AsyncClient(timeout=15) as browser:
        before = (await client.get(path)).json()
        answer = await client.put(path, json={**before, "reply_to": new})
        assert answer.status_code == 202 and answer.json()["reply_to"] is None
        assert (await requested_for(stack, A)).delivery.reply_to is None
        (confirm,) = await mails_to(mail, new)
        assert (await browser.post(link_in(confirm))).status_code == 200
        assert (await requested_for(stack, A)).delivery.reply_to == new
        removed = await client.put(path, json={**before, "reply_to": None})
        assert removed.status_code == 200 and removed.json()["reply_to"] is None
        listed = await client.put(path, json={**before, "reply_to": "victim@example.com,postmaster"})
        assert listed.status_code == 422 and (await client.get(path)).json()["reply_to"] is None


async def _stored(stack: Stack, field: str) -> str:
    redis = Redis.from_url(stack.redis_url)
    try:
        return (await redis.get(f"{PREFIX}{name(A)}:{field}")).decode()
    finally:
        await redis.aclose()
