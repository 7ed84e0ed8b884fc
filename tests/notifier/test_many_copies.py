"""Several notifier copies, slow mail: every link emailed exactly once. Real Redis, real schedulers, real SMTP.

The finding this replays: a copy claimed up to 100 orders under a 60 s lease
and worked through them 16 at a time; with SMTP at 8 s a message the lease
ran out mid-batch and another copy claimed the same orders (44 of 100 links
emailed twice with two copies). Scaled down so it runs in seconds: a 2 s
lease, SMTP answering each message after 3 s, each copy with 8 connections
and 16 orders at once, so most orders wait longer than a lease for their
email. Counts are asserted once every copy has stopped, never durations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from devstack.embedded import EmbeddedServer, start_redis
from notifier.intake import record_request
from notifier.mail import SmtpSender
from notifier.redis_store import DUE, RedisLinkStore
from schemas import utc_now
from tests.notifier.copies import Copy, a_copy
from tests.notifier.helpers import request
from tests.notifier.slow_mail import SlowMailServer

pytestmark = pytest.mark.integration  # its own Redis and SMTP server, real time

LEASE_S = 2.0
SMTP_DELAY_S = 3.0  # longer than the lease: the finding's 8 s against 60 s, scaled
ORDERS = 40


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    server = await asyncio.to_thread(start_redis, tmp_path)
    yield server
    await asyncio.to_thread(server.stop)


async def _quiet(redis: Redis, store: RedisLinkStore, keys: list[str], mail: SlowMailServer) -> None:
    """Every link accepted, no outbox left, no order held by any copy: nothing more is on its way."""
    while True:
        outboxes = [(await store.state(key)).outbox for key in keys]
        if len(mail.messages) >= len(keys) and not any(outboxes) and not await redis.hlen(f"{DUE}:claims"):
            return
        await asyncio.sleep(0.2)


async def _copies_send(count: int, redis_server: EmbeddedServer) -> tuple[list[Copy], SlowMailServer, list[str]]:
    url = f"redis://{redis_server.address}/0"
    clients = [Redis.from_url(url) for _ in range(count + 1)]
    with SlowMailServer(SMTP_DELAY_S) as mail:
        senders = [SmtpSender(mail.target) for _ in range(count)]
        copies = [
            a_copy(f"copy-{i}", RedisLinkStore(clients[i]), senders[i], utc_now, lease_s=LEASE_S) for i in range(count)
        ]
        intake = RedisLinkStore(clients[-1])
        wanted = [request(0) for _ in range(ORDERS)]
        for one in wanted:
            await record_request(intake, one, utc_now())
        stop = asyncio.Event()
        running = [asyncio.create_task(copy.scheduler.run(stop)) for copy in copies]
        try:
            await asyncio.wait_for(_quiet(clients[-1], intake, [w.order_key for w in wanted], mail), timeout=120)
        finally:
            stop.set()
            await asyncio.gather(*running)  # each copy finishes what it started: an email in flight is counted
            for sender in senders:
                await sender.aclose()
            for client in clients:
                await client.aclose()
        return copies, mail, [w.order_key for w in wanted]


@pytest.mark.parametrize("count", [2, 3])
async def test_many_notifier_copies_with_slow_smtp_email_every_link_exactly_once(
    count: int, redis_server: EmbeddedServer
) -> None:
    assert SMTP_DELAY_S > LEASE_S  # the finding's condition: a message takes longer than a lease
    copies, mail, _ = await _copies_send(count, redis_server)
    per_link = mail.per_message_id()
    assert len(per_link) == ORDERS and set(per_link.values()) == {1}  # every link once: none twice, none missing
    assert sum(len(copy.mail.sent) for copy in copies) == ORDERS  # no copy handed a link over twice either
    assert [copy.parked.items for copy in copies] == [{}] * count
