"""The scheduler and outbox in-process on a clock the test moves: a link's week, its reminders, its expiry,
with the broker failing at the worst moments. Real Redis and broker; mail kept in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from devstack.embedded import EmbeddedServer, start_redis
from notifier.intake import record_request, record_status
from notifier.outbox import LEASE_MARGIN_S, Outbox
from notifier.redis_store import DUE, RedisLinkStore
from notifier.render import EmailRenderer
from notifier.scheduler import LEASE_S, LinkScheduler
from notifier.set_aside import MemorySetAside
from schemas import (
    OrderStatus,
    PersonalizationLinkExpired,
    PersonalizationLinkIssued,
    PersonalizationReminderSent,
)
from tests.notifier.doubles import HookedSender
from tests.notifier.helpers import distinct, request, status
from tests.support import Recorder

pytestmark = pytest.mark.integration  # starts servers or service processes of its own

T0 = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # before the status events, which carry the real time
DAY = timedelta(days=1)


class FlakyProducer:
    """The real producer, or a broker that refuses every send while `down`."""

    def __init__(self, real: AIOKafkaProducer) -> None:
        self.real, self.down = real, False

    async def send(self, *args: object, **kwargs: object) -> asyncio.Future:
        if self.down:
            raise KafkaConnectionError("broker down (test)")
        return await self.real.send(*args, **kwargs)


class Week:
    def __init__(self, store: RedisLinkStore, producer: FlakyProducer, lease_s: float = LEASE_S) -> None:
        self.now = T0
        self.mail = HookedSender()
        self.producer = producer
        self.store = store
        outbox = Outbox(store, producer, self.mail, EmailRenderer(), mail_from="P <p@example.com>", clock=self.clock)
        self.parked = MemorySetAside()
        self.scheduler = LinkScheduler(
            store,
            outbox,
            public_url="https://p.example",
            link_ttl=7 * DAY,
            clock=self.clock,
            set_aside=self.parked,
            lease_s=lease_s,
        )

    def clock(self) -> datetime:
        return self.now

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.mail.sent]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.mail.sent]


@pytest.fixture
async def week(servers: dict, bus: dict) -> AsyncIterator[tuple[Week, RedisLinkStore]]:
    redis = Redis.from_url(f"redis://{servers['redis'].address}/7")
    store = RedisLinkStore(redis)
    yield Week(store, FlakyProducer(bus["producer"])), store
    await redis.aclose()


async def test_a_week_of_reminders_and_an_expiry_with_the_broker_failing_sends_and_publishes_each_once(week, bus):
    clock, store = week
    recorder = bus["recorder"]
    wanted = request(at=T0, delay_s=0, reminders=[3 * DAY, 6 * DAY])
    key = wanted.order_key
    await record_request(store, wanted, T0)
    await clock.scheduler.act(key)
    (link,) = await recorder.wait_for(key, lambda es: len(es) >= 1)
    assert isinstance(link, PersonalizationLinkIssued) and len(clock.mail.sent) == 1

    # Day 3: the reminder is handed to SMTP, then the broker refuses its event: the notifier "crashes" there.
    clock.now = T0 + 3 * DAY
    clock.producer.down = True
    with pytest.raises(KafkaConnectionError):
        await clock.scheduler.act(key)
    assert len(clock.mail.sent) == 2 and recorder.events(key, PersonalizationReminderSent) == []
    clock.producer.down = False
    await clock.scheduler.act(key)  # the retry publishes the stored event and sends nothing again
    assert len(clock.mail.sent) == 2
    await recorder.wait_for(key, lambda es: any(isinstance(e, PersonalizationReminderSent) for e in es))

    clock.now = T0 + 6 * DAY + timedelta(hours=1)
    await clock.scheduler.act(key)
    sent = await _wait(recorder, key, PersonalizationReminderSent, 2)
    assert [e.reminder for e in sent] == [1, 2] and len(clock.mail.sent) == 3
    assert sent[0].occurred_at == T0 + 3 * DAY  # when the email went out, not when the event finally did

    # Day 7: the broker refuses the new link's events, before any email: nothing goes out until it is back.
    clock.now = T0 + 7 * DAY
    clock.producer.down = True
    with pytest.raises(KafkaConnectionError):
        await clock.scheduler.act(key)
    assert len(clock.mail.sent) == 3
    clock.producer.down = False
    await clock.scheduler.act(key)
    (expired,) = await _wait(recorder, key, PersonalizationLinkExpired, 1)
    _, second = await _wait(recorder, key, PersonalizationLinkIssued, 2)
    assert (expired.link_id, expired.sequence, expired.expired_at) == (link.link_id, 1, link.expires_at)
    assert second.sequence == 2 and len(clock.mail.sent) == 4
    assert "new personalization link" in clock.subjects()[3]
    await clock.scheduler.act(key)  # acting again changes nothing
    assert len(clock.mail.sent) == 4 and len(recorder.events(key, PersonalizationLinkExpired)) == 1

    # Completed before the new link's first reminder: silence.
    await record_status(store, status(key, OrderStatus.PENDING_APPROVAL), clock.now)
    clock.now = T0 + 11 * DAY
    await clock.scheduler.act(key)
    assert len(clock.mail.sent) == 4
    assert [e.link_id for e in distinct(recorder, key, PersonalizationReminderSent)] == [link.link_id] * 2


async def test_a_reminder_held_up_by_the_mail_server_past_the_links_expiry_is_dropped(week, bus):
    clock, store = week
    wanted = request(at=T0, delay_s=0, reminders=[6 * DAY])
    key = wanted.order_key
    await record_request(store, wanted, T0)
    await clock.scheduler.act(key)
    clock.now, clock.mail.failing = T0 + 6 * DAY, True
    await clock.scheduler.act(key)  # queued, not sent
    clock.now, clock.mail.failing = T0 + 7 * DAY, False
    await clock.scheduler.act(key)
    assert [("reminder" in s, "new personalization link" in s) for s in clock.subjects()] == [
        (False, False),
        (False, True),
    ]
    await record_status(store, status(key, OrderStatus.CANCELLED), clock.now)


async def _wait(recorder: Recorder, key: str, event_type: type, count: int) -> list:
    await recorder.wait_for(key, lambda _: len(distinct(recorder, key, event_type)) >= count)
    return distinct(recorder, key, event_type)


async def _outbox(store: RedisLinkStore, key: str) -> dict[bytes, bytes]:
    # A client without decode_responses answers bytes.
    return cast(dict[bytes, bytes], await store._redis.hgetall(f"notifier:outbox:{key}"))


async def test_a_reminder_emailed_while_the_broker_is_away_is_announced_even_though_the_order_completed(week, bus):
    clock, store = week
    recorder = bus["recorder"]
    wanted = request(at=T0, delay_s=0, reminders=[3 * DAY])
    key = wanted.order_key
    await record_request(store, wanted, T0)
    await clock.scheduler.act(key)
    (link,) = await _wait(recorder, key, PersonalizationLinkIssued, 1)

    # The reminder goes out, its event is stored, the broker refuses it; then the customer completes.
    clock.now = T0 + 3 * DAY
    clock.producer.down = True
    with pytest.raises(KafkaConnectionError):
        await clock.scheduler.act(key)
    assert len(clock.mail.sent) == 2
    await record_status(store, status(key, OrderStatus.PENDING_APPROVAL), clock.now)
    kept = await _outbox(store, key)
    assert len(kept) == 1 and link.url.encode() not in b"".join(kept.values())  # the event, not the raw token
    assert await store._redis.zscore(DUE, key) is not None  # still on the timer, so it gets published

    clock.producer.down = False
    await clock.scheduler.act(key)
    (sent,) = await _wait(recorder, key, PersonalizationReminderSent, 1)
    assert (sent.link_id, sent.reminder, sent.occurred_at) == (link.link_id, 1, T0 + 3 * DAY)
    assert await _outbox(store, key) == {} and await store._redis.zscore(DUE, key) is None
    await clock.scheduler.act(key)  # done: no email, no second event
    await asyncio.sleep(1.0)
    assert len(clock.mail.sent) == 2 and len(recorder.events(key, PersonalizationReminderSent)) == 1


async def test_a_reminder_whose_order_completes_while_smtp_has_it_is_announced_once(week, bus):
    clock, store = week
    recorder = bus["recorder"]
    wanted = request(at=T0, delay_s=0, reminders=[3 * DAY])
    key = wanted.order_key
    await record_request(store, wanted, T0)
    await clock.scheduler.act(key)

    async def completed_and_broker_down() -> None:  # between the 250 and the event being stored
        await record_status(store, status(key, OrderStatus.PENDING_APPROVAL), clock.now)
        clock.producer.down = True

    clock.now, clock.mail.after = T0 + 3 * DAY, completed_and_broker_down
    with pytest.raises(KafkaConnectionError):
        await clock.scheduler.act(key)
    assert len(clock.mail.sent) == 2 and await store._redis.zscore(DUE, key) is not None
    clock.producer.down = False
    await clock.scheduler.act(key)
    (sent,) = await _wait(recorder, key, PersonalizationReminderSent, 1)
    assert sent.reminder == 1
    await clock.scheduler.act(key)
    await asyncio.sleep(1.0)
    assert len(clock.mail.sent) == 2 and len(recorder.events(key, PersonalizationReminderSent)) == 1
    assert await _outbox(store, key) == {} and await store._redis.zscore(DUE, key) is None


class Outage:
    """Its own redis-server, stopped right after an email is accepted and started again `seconds` later."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server: EmbeddedServer = start_redis(folder)
        self.back: asyncio.Task | None = None

    def after_smtp(self, seconds: float) -> Callable[[], Awaitable[None]]:
        async def stop_redis() -> None:
            await asyncio.to_thread(self.server.stop)
            self.back = asyncio.create_task(self._restart(seconds))

        return stop_redis

    async def _restart(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.server = await asyncio.to_thread(start_redis, self.folder, self.server.port)


@pytest.fixture
async def outage(tmp_path: Path, bus: dict) -> AsyncIterator[tuple[Week, Outage]]:
    outage = Outage(tmp_path)
    redis = Redis.from_url(f"redis://{outage.server.address}/0")
    yield Week(RedisLinkStore(redis), FlakyProducer(bus["producer"])), outage
    if outage.back is not None:
        await outage.back
    await redis.aclose()
    outage.server.stop()


async def test_redis_down_right_after_smtp_accepts_sends_no_email_twice(outage, bus):
    clock, redis_server = outage
    recorder = bus["recorder"]
    wanted = request(at=T0, delay_s=0, reminders=[3 * DAY])
    key = wanted.order_key
    await record_request(clock.store, wanted, T0)

    clock.mail.after = redis_server.after_smtp(2.0)  # the link's email: Redis gone before its entry is deleted
    await clock.scheduler.act(key)
    assert redis_server.back is not None and redis_server.back.done()
    assert len(clock.mail.sent) == 1 and await _outbox(clock.store, key) == {}

    clock.now = T0 + 3 * DAY
    clock.mail.after = redis_server.after_smtp(2.0)  # the reminder's: gone before its event is stored
    await clock.scheduler.act(key)
    (sent,) = await _wait(recorder, key, PersonalizationReminderSent, 1)
    assert sent.reminder == 1 and await _outbox(clock.store, key) == {}

    await clock.scheduler.act(key)  # what the lease would have brought back: nothing left to send
    clock.now = T0 + 3 * DAY + timedelta(minutes=5)
    await clock.scheduler.act(key)
    assert len(clock.message_ids()) == len(set(clock.message_ids())) == 2
    await record_status(clock.store, status(key, OrderStatus.CANCELLED), clock.now)


async def test_redis_away_for_longer_than_the_lease_fails_the_action_within_it(outage, bus):
    _, redis_server = outage
    lease_s = LEASE_MARGIN_S + 1.5  # the writes after the email may wait 1.5 s
    clock = Week(outage[0].store, FlakyProducer(bus["producer"]), lease_s=lease_s)
    wanted = request(at=T0, delay_s=0)
    key = wanted.order_key
    await record_request(clock.store, wanted, T0)
    clock.mail.after = redis_server.after_smtp(6.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(RedisError):
        await clock.scheduler.act(key)
    assert loop.time() - started < lease_s, "gave up within the lease it held"  # its bound, not a speed
    await redis_server.back
    # The documented window: the lease runs out, the email goes again, with the same Message-ID.
    clock.now = T0 + timedelta(seconds=lease_s)
    await clock.scheduler.act(key)
    assert len(clock.mail.sent) == 2 and clock.message_ids()[0] == clock.message_ids()[1]
