"""Poison interleaved with good orders on a real broker, through real `personalize core`, `notifier` and `editor`.

Before every good message, on its partition (same key), goes a poison one on a
topic some service consumes: bytes that are not JSON, an empty value, a
tombstone, JSON of the wrong shape, nesting past the recursion limit, NaN,
a valid event with a field retyped or missing, a number past any parser's
limit, a message near 1 MiB. Good orders include hostile but valid text
(direction overrides, zero-width characters, markup, a NUL) and a quantity
past 64 bits. Then:

- every good order goes the whole way: one status, one request, one link,
  one email (so no partition is stuck behind its poison);
- every poison message is dead-lettered exactly once by each consumer group
  that reads its topic (core, notifier, notifier-webhooks, editor), naming its
  partition and offset; nothing good is dead-lettered;
- every service is still running at the end.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.main import CONSUMES as CORE_CONSUMES
from devstack.embedded import free_port
from editor_service.main import CONSUMES as EDITOR_CONSUMES
from notifier.automation import HOOK_TOPICS
from notifier.main import CONSUMES as NOTIFIER_CONSUMES
from schemas import (
    ORDERS_RECEIVED,
    DeadLetter,
    OrderStatusChanged,
    PersonalizationLinkIssued,
    PersonalizationRequested,
    encode,
    topic_of,
)
from tests.builders import CONFIG_PATH, MANUAL, mug, order, plain
from tests.fuzzing.events import samples
from tests.fuzzing.strategies import CASES, deep
from tests.servers import own_bus, own_servers
from tests.support import ServiceProcess, unique_id

pytestmark = pytest.mark.integration  # starts servers or service processes of its own

pytestmark = pytest.mark.integration

SECRET = "poison-stream-editor-secret-" + "p" * 20
# Which consumer groups read each topic: each dead-letters a poison message once.
READERS: dict[str, tuple[str, ...]] = {}
for _group, _topics in (
    ("core", CORE_CONSUMES),
    ("notifier", NOTIFIER_CONSUMES),
    ("hooks", HOOK_TOPICS),
    ("editor", EDITOR_CONSUMES),
):
    for _topic in _topics:
        READERS[_topic] = (*READERS.get(_topic, ()), _group)


def poisons(topic: str) -> list[bytes | None]:
    wire = json.loads(encode(next(e for e in samples().values() if topic_of(e) == topic)))
    retyped = {**wire, "order_key": 12345}
    missing = {k: v for k, v in wire.items() if k != "order_key"}  # (event_type has a default: not poison)
    unknown = {**wire, "surprise": True}
    return [
        b"\x00\xffnot json",
        b"",
        None,
        b"[]",
        b"NaN",
        deep(100_000),
        json.dumps(retyped).encode(),
        json.dumps(missing).encode(),
        json.dumps(unknown).encode(),
        b'{"schema_version": 1e999}',
        b'{"order_key": "' + b"9" * 5000 + b'"',
        json.dumps({**wire, "pad": "x" * 900_000}).encode(),
    ]


def good_orders() -> list:
    hostile = [
        "Ada \u202egnp.exe",
        "zero\u200bwidth\u200d",
        "<script>alert(1)</script>",
        "nul\x00byte",
        "👩\u200d👩\u200d👧 RTL שלום",
        "a" * 500,
    ]
    orders = [
        order(
            MANUAL,
            [mug("L1", title=f"Mug {text}", buyer_personalization=text), plain("L2")],
            at=datetime.now(UTC),
            customer={"name": text, "email": "x@example.com"},
        )
        for text in hostile
    ]
    orders.append(order(MANUAL, [mug("L1", quantity=2**70)], at=datetime.now(UTC)))
    orders += [order(MANUAL, [mug("L1")], at=datetime.now(UTC)) for _ in range(5)]
    return orders


servers = own_servers("poison", scope="module")
bus = own_bus(scope="module")


def start_services(servers: dict, editor_port: int) -> dict[str, ServiceProcess]:
    state: Path = servers["state"]
    run = unique_id()
    env = {
        "PERSONALIZE_KAFKA_BOOTSTRAP": servers["broker"].address,
        "PERSONALIZE_REDIS_URL": f"redis://{servers['redis'].address}/0",
        "PERSONALIZE_CONFIG": str(CONFIG_PATH),
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "PERSONALIZE_TOPIC_PARTITIONS": "4",
        "PERSONALIZE_LINK_DELAY": "1s",
        "PERSONALIZE_LINK_TTL": "1h",
        "PERSONALIZE_SMTP_URL": servers["mail"].url,
        "PERSONALIZE_PUBLIC_URL": f"http://127.0.0.1:{editor_port}",
        "PERSONALIZE_EDITOR_SECRET": SECRET,
        "PERSONALIZE_ASSETS_DIR": str(state / "assets"),
        "PERSONALIZE_CORE_GROUP": f"core-{run}",
        "PERSONALIZE_NOTIFIER_GROUP": f"notifier-{run}",
        "PERSONALIZE_HOOKS_GROUP": f"hooks-{run}",
        "PERSONALIZE_EDITOR_GROUP": f"editor-{run}",
    }
    services = {
        "core": ServiceProcess(["core"], env, state / "core.log"),
        "notifier": ServiceProcess(["notifier"], env, state / "notifier.log"),
        "editor": ServiceProcess(["editor", "--port", str(editor_port)], env, state / "editor.log"),
    }
    for service in services.values():
        service.start()
    return services


async def test_poison_is_dead_lettered_once_per_reader_and_every_good_order_goes_through(servers, bus):
    producer, recorder = bus["producer"], bus["recorder"]
    editor_port = free_port()
    services = start_services(servers, editor_port)
    run = services["core"].env["PERSONALIZE_CORE_GROUP"].removeprefix("core-")
    try:
        placed, poisoned, what = good_orders(), [], {}
        kinds = [(topic, value) for topic in READERS for value in poisons(topic)]
        for i, good in enumerate(placed):
            key = good.order_key.encode()  # the poison lands on the partition its good order comes after
            for topic, value in kinds[i :: len(placed)]:
                sent = await producer.send_and_wait(topic, value, key=key)
                poisoned.append((topic, sent.partition, sent.offset))
                what[(topic, sent.partition, sent.offset)] = (value or b"None")[:30]
            await producer.send_and_wait(ORDERS_RECEIVED, encode(good), key=key)
        CASES["poison stream: poison messages on a real broker"] += len(poisoned)
        CASES["poison stream: good orders among them"] += len(placed)

        for good in placed:
            await recorder.wait_for(
                good.order_key, lambda es: any(isinstance(e, PersonalizationLinkIssued) for e in es), timeout=90
            )
        mail = await asyncio.to_thread(servers["mail"].wait_for, len(placed), 60)
        expected = Counter(
            (topic, part, off, f"{group}-{run}") for topic, part, off in poisoned for group in READERS[topic]
        )
        letters = await _wait_dead_letters(recorder, run, sum(expected.values()))
        await asyncio.sleep(2)  # anything published twice would show by now

        letters = _dead_letters(recorder, run)
        seen = Counter((d.source_topic, d.partition, d.offset, d.consumer) for d in letters)
        missing = {(*k, what.get(k[:3])) for k in expected - seen}
        assert seen == expected, f"missing: {missing}; extra: {seen - expected}"
        assert all(d.error.startswith("cannot decode") for d in letters), {d.error[:80] for d in letters}
        for good in placed:
            events = recorder.events(good.order_key)
            assert sum(isinstance(e, OrderStatusChanged) for e in events) == 1
            assert sum(isinstance(e, PersonalizationRequested) for e in events) == 1
            (link,) = [e for e in events if isinstance(e, PersonalizationLinkIssued)]
            assert sum(link.url in m.get_body(("plain",)).get_content() for m in mail) == 1
        assert len(servers["mail"].messages) == len(placed)
        async with httpx.AsyncClient(timeout=5) as http:  # the editor recorded every link despite the poison
            for good in placed:
                (link,) = recorder.events(good.order_key, PersonalizationLinkIssued)
                page = await _get_until(http, link.url)
                assert page.status_code == 200 and "<script>alert" not in page.text
        for name, service in services.items():
            assert service.process.poll() is None, f"{name} died:\n{service.log_tail()}"
    finally:
        for name, service in services.items():
            code = await asyncio.to_thread(service.stop)
            assert code == 0, f"{name} exited {code}:\n{service.log_tail()}"


def _dead_letters(recorder, run: str) -> list[DeadLetter]:
    return [
        s.event
        for seen in recorder.by_order.values()
        for s in seen
        if isinstance(s.event, DeadLetter) and s.event.consumer.endswith(run)
    ]


async def _wait_dead_letters(recorder, run: str, n: int) -> list[DeadLetter]:
    for _ in range(300):  # a minute, 0.2 s apart
        found = _dead_letters(recorder, run)
        if len(found) >= n:
            return found
        await asyncio.sleep(0.2)
    return _dead_letters(recorder, run)  # the comparison below names what is missing


async def _get_until(http: httpx.AsyncClient, url: str) -> httpx.Response:
    for _ in range(100):  # 20 s, 0.2 s apart
        response = await http.get(url)
        if response.status_code != 404:
            return response
        await asyncio.sleep(0.2)
    return response
