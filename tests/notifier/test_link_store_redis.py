"""The Redis link store keeps the notifier's layout: what an older copy wrote reads back, what it reads is written.

A copy restarted during an upgrade finds orders, outboxes and timers written
by the old code (its Lua scripts), and an old copy still running beside a
new one reads what the new one writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from notifier import policy
from notifier.entries import EmailedReminder, LinkEntry
from notifier.link_state import PP, LinkState, LiveLink, micros
from notifier.redis_store import DUE, RedisLinkStore
from notifier.store import NewLink
from tests.notifier.helpers import emailed_reminder, held, issued, link_entry, queued_reminder, request

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def texts(row: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(name): _text(value) for name, value in row.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def test_an_order_written_by_the_old_notifier_reads_back_whole(store_redis: Redis) -> None:
    wanted = request(0, at=T0, reminders=[DAY])
    link, key = issued(wanted, at=T0), wanted.order_key
    delivery = wanted.delivery.model_dump(mode="json")
    remind_at = [(T0 + DAY).timestamp()]
    await store_redis.hset(
        f"notifier:order:{key}",
        mapping={
            "status": PP,
            "status_at": micros(T0),
            "request": wanted.model_dump_json(),
            "seq": 1,
            "expires": link.expires_at.timestamp(),
            "force": "0",
            "link_id": link.link_id,
            "remind_at": json.dumps(remind_at),
            "reminded": 0,
            "smtp_failures": 2,
            "live": json.dumps({"link": link.model_dump_json(), "delivery": delivery}),
        },
    )
    sent = emailed_reminder(link).event
    await store_redis.hset(
        f"notifier:outbox:{key}",
        mapping={
            link.link_id: json.dumps(
                {
                    "kind": "link",
                    "link_id": link.link_id,
                    "sequence": 1,
                    "event": link.model_dump_json(),
                    "expired": None,
                    "delivery": delivery,
                    "published": True,
                }
            ),
            "r": json.dumps({"kind": "reminder", "sequence": 1, "reminder": 1, "event": sent.model_dump_json()}),
        },
    )
    state = await RedisLinkStore(store_redis).state(key)
    assert state == LinkState(
        status=PP,
        status_at=micros(T0),
        request=wanted,
        seq=1,
        expires=link.expires_at.timestamp(),
        force=False,
        smtp_failures=2,
        link_id=link.link_id,
        remind_at=tuple(remind_at),
        reminded=0,
        live=LiveLink(link, wanted.delivery),
        outbox=(
            LinkEntry(
                id=link.link_id, link_id=link.link_id, sequence=1, event=link, delivery=wanted.delivery, published=True
            ),
            EmailedReminder(id="r", sequence=1, reminder=1, event=sent),
        ),
    )


async def test_an_issued_link_is_stored_under_the_names_and_formats_the_old_notifier_reads(store_redis: Redis) -> None:
    store = RedisLinkStore(store_redis)
    wanted = request(0, at=T0, reminders=[DAY])
    link, key = issued(wanted, at=T0), wanted.order_key
    read = await store.state(key)
    await store.record_request(wanted, read, policy.on_request(read, wanted, T0))
    remind_at = ((T0 + DAY).timestamp(),)
    live = LiveLink(link, wanted.delivery)
    assert await store.issue(
        key,
        0,
        NewLink(link_entry(link, wanted.delivery), "sha", link.expires_at, remind_at, live),
        fence=await held(store, key, T0),
    )
    assert await store.remind(key, 1, 0, 1, True, queued_reminder(link), fence=await held(store, key, T0))

    order = texts(await store_redis.hgetall(f"notifier:order:{key}"))
    assert order == {
        "status": PP,
        "status_at": str(micros(T0)),
        "request": wanted.model_dump_json(),
        "seq": "1",
        "expires": repr(link.expires_at.timestamp()),
        "force": "0",
        "link_id": link.link_id,
        "remind_at": json.dumps(list(remind_at)),
        "reminded": "1",
    }
    outbox = {
        name: json.loads(value) for name, value in texts(await store_redis.hgetall(f"notifier:outbox:{key}")).items()
    }
    assert outbox[link.link_id]["event"] == link.model_dump_json() and outbox[link.link_id]["published"] is False
    assert outbox[link.link_id]["delivery"] == wanted.delivery.model_dump(mode="json")
    reminder = outbox[f"{link.link_id}:reminder-1"]
    assert (reminder["kind"], reminder["sequence"], reminder["reminder"], reminder["event"]) == ("reminder", 1, 1, None)
    assert reminder["link"] == link.model_dump_json()
    record = texts(await store_redis.hgetall("notifier:link:sha"))
    assert record == {
        "order_key": key,
        "link_id": link.link_id,
        "sequence": "1",
        "expires": repr(link.expires_at.timestamp()),
    }
    fence = (await store_redis.hget(f"{DUE}:claims", key)).decode()  # the writing copy's claim, beside the timer
    assert fence.endswith("/test-copy") and await store_redis.zscore(DUE, key) == T0.timestamp() + 60.0
    assert 59 * 86400 < await store_redis.ttl(f"notifier:seen:{key}") <= 60 * 86400
