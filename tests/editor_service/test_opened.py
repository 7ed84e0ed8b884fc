"""`PersonalizationLinkOpened`: the first open of a live link is reported once, whatever opens it and however often.

How "nothing more came" is seen without waiting on a clock: every GET is answered only after its
publish was acknowledged, so once the GETs are answered the test sends a marker event with the same
order key; the order's events share a partition, so when the recorder sees the marker it has seen
everything the editor published before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError

from editor_service.completion import Republisher
from editor_service.opened import report_first_open
from editor_service.state import UNPUBLISHED_OPENED, EditorStore
from schemas import OrderStatus, PersonalizationLinkExpired, PersonalizationLinkIssued, PersonalizationLinkOpened
from tests.editor_service.conftest import (
    editor_store,
    link_event,
    publish_link,
    set_status,
    start_editor,
    wait_recorded,
)
from tests.support import send, unique_id


async def opens_seen(bus: dict, link: PersonalizationLinkIssued) -> list[PersonalizationLinkOpened]:
    """The opened events of the link's order, once everything published before now has been read."""
    marker = PersonalizationLinkExpired(
        order_key=link.order_key,
        link_id=f"marker-{unique_id()}",
        sequence=1,
        store_id=link.store_id,
        platform=link.platform,
        order_number=link.order_number,
        expired_at=datetime.now(UTC),
    )
    await send(bus["producer"], marker)
    await bus["recorder"].wait_for(link.order_key, lambda es: any(e.event_id == marker.event_id for e in es))
    return bus["recorder"].events(link.order_key, PersonalizationLinkOpened)


async def get_all(url: str, times: int) -> list[int]:
    async with httpx.AsyncClient(timeout=15) as http:
        return [r.status_code for r in await asyncio.gather(*(http.get(url) for _ in range(times)))]


async def test_concurrent_first_opens_report_once_and_later_opens_nothing(servers, bus, editor):
    token, link = await publish_link(bus, editor)
    await wait_recorded(servers, token)

    assert await get_all(editor.link(token), 8) == [200] * 8
    (event,) = await opens_seen(bus, link)
    assert (event.link_id, event.sequence, event.store_id, event.platform, event.order_number, event.is_test) == (
        link.link_id,
        1,
        "shop-manual",
        "woocommerce",
        link.order_number,
        False,
    )
    assert event.occurred_at >= link.occurred_at

    assert await get_all(editor.link(token), 3) == [200] * 3
    assert [e.event_id for e in await opens_seen(bus, link)] == [event.event_id]


async def test_an_open_through_another_or_restarted_editor_reports_nothing_more(servers, bus, editor):
    token, link = await publish_link(bus, editor)
    await wait_recorded(servers, token)
    assert await get_all(editor.link(token), 1) == [200]
    (first,) = await opens_seen(bus, link)

    other = await start_editor(servers, servers["state"] / f"editor-{unique_id()}.log")
    try:
        assert await get_all(other.link(token), 2) == [200, 200]
    finally:
        assert await asyncio.to_thread(other.service.stop) == 0, other.service.log_tail()
    assert [e.event_id for e in await opens_seen(bus, link)] == [first.event_id]


async def test_each_link_of_an_order_has_its_own_first_open(servers, bus, editor):
    number = unique_id()
    first_token, first = await publish_link(bus, editor, number=number, sequence=1)
    second_token, second = await publish_link(bus, editor, number=number, sequence=2)
    await wait_recorded(servers, first_token)
    await wait_recorded(servers, second_token)
    await get_all(editor.link(first_token), 2)
    await get_all(editor.link(second_token), 2)
    seen = await opens_seen(bus, second)
    assert sorted((e.link_id, e.sequence) for e in seen) == sorted([(first.link_id, 1), (second.link_id, 2)])


async def test_a_link_that_cannot_be_used_is_not_an_open(servers, bus, editor):
    expired_token, expired = await publish_link(bus, editor, expires_in=timedelta(seconds=-1))
    closed_token, closed = await publish_link(bus, editor)
    await set_status(bus, closed.order_key, OrderStatus.CANCELLED)
    await wait_recorded(servers, expired_token)
    await wait_recorded(servers, closed_token)
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(100):  # until the editor has consumed the cancellation
            if (await http.get(editor.link(closed_token))).status_code == 410:
                break
            await asyncio.sleep(0.1)
    assert await get_all(editor.link(expired_token), 2) == [410, 410]
    assert await opens_seen(bus, expired) == []
    # The closed link may have been opened before the cancellation arrived; after it, opens add nothing.
    before = len(await opens_seen(bus, closed))
    assert await get_all(editor.link(closed_token), 2) == [410, 410]
    assert len(await opens_seen(bus, closed)) == before <= 1


# --- the claim and the republisher, on the real Redis and broker --------------------------------------------


class BrokerDown:
    async def send(self, *args: object, **kwargs: object) -> None:
        raise KafkaConnectionError("broker unreachable")


@pytest.fixture
async def store(servers: dict) -> AsyncIterator[EditorStore]:
    async with editor_store(servers, 6) as opened_store:
        yield opened_store


async def test_a_first_open_the_broker_did_not_take_is_republished_with_the_same_id(store, bus):
    _, link = link_event("https://e.example")
    key = unique_id().ljust(64, "0")  # stands for the token's hash
    await store.record_link(link, key)
    view = await store.view(key)
    now = datetime.now(UTC)
    assert not view.opened
    assert await report_first_open(store, BrokerDown(), view, now)  # claimed; its publish failed
    assert (await store.view(key)).opened
    assert not await report_first_open(store, bus["producer"], view, now)  # a later open: nothing
    (pending,) = [c for c in await store.first_opens.due(0) if c.key == link.link_id]

    assert await Republisher(store, bus["producer"], grace_s=0).once() >= 1
    seen = await bus["recorder"].wait_for(link.order_key, lambda es: len(es) >= 1)
    assert [e.event_id for e in seen if isinstance(e, PersonalizationLinkOpened)] == [pending.event_id]
    assert await store._redis.zscore(UNPUBLISHED_OPENED, link.link_id) is None
