"""The editor's Redis state and its publishing guarantee, on the real Redis and broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.errors import KafkaConnectionError
from redis.asyncio import Redis

from editor_service.completion import Republisher, complete, completion_event
from editor_service.state import UNPUBLISHED, EditorStore
from schemas import OrderStatus, OrderStatusChanged, PersonalizationCompleted
from tests.editor_service.conftest import link_event
from tests.support import unique_id


@pytest.fixture
async def store(servers) -> AsyncIterator[EditorStore]:
    redis = Redis.from_url(f"redis://{servers['redis'].address}/5")
    yield EditorStore(redis)
    await redis.aclose()


class BrokerDown:
    """A producer whose broker is unreachable."""

    async def send(self, *args: object, **kwargs: object) -> None:
        raise KafkaConnectionError("broker unreachable")


def change(key: str, to: OrderStatus, at: datetime) -> OrderStatusChanged:
    return OrderStatusChanged(order_key=key, from_status=None, to_status=to, reason="t", occurred_at=at)


async def test_an_older_status_never_overwrites_a_newer_one(store):
    _, link = link_event("https://e.example")
    await store.record_link(link, "h" * 64)
    now = datetime.now(UTC)
    assert await store.record_status(change(link.order_key, OrderStatus.CANCELLED, now)) == "recorded"
    assert (
        await store.record_status(
            change(link.order_key, OrderStatus.PENDING_PERSONALIZATION, now - timedelta(seconds=1))
        )
        == "stale"
    )
    assert (await store.view("h" * 64)).status == "cancelled"


async def test_the_newest_link_sets_the_items_whatever_order_they_arrive_in(store):
    number = unique_id()
    _, second = link_event("https://e.example", number=number, sequence=2, buyer_text="new")
    _, first = link_event("https://e.example", number=number, sequence=1, buyer_text="old")
    await store.record_link(second, "2" * 64)
    await store.record_link(first, "1" * 64)
    seen = await store.view("1" * 64)
    assert seen.sequence == 1 and seen.latest_seq == 2 and seen.items[0].buyer_personalization == "new"


async def test_a_page_view_reads_in_one_script_what_view_reads_and_counts_each_rate_key(store):
    _, link = link_event("https://e.example", number=unique_id())
    link_hash = unique_id().ljust(64, "0")
    await store.record_link(link, link_hash)
    await store.record_status(change(link.order_key, OrderStatus.PENDING_PERSONALIZATION, datetime.now(UTC)))
    await store.save_draft(link.order_key, {"L1:name": "Ada"})
    await store.claim(completion_event(link.order_key, link.items, {"L1:name": "a"}, {}), 1)
    rate_keys = [f"t:{link_hash}", f"a:{unique_id()}"]
    (per_link, per_address), seen = await store.visit(link_hash, rate_keys)
    assert (per_link, per_address) == (1, 1) and seen == await store.view(link_hash)
    assert seen.draft == {"L1:name": "Ada"} and seen.completed_seq == 1 and seen.status == "pending_personalization"
    assert (await store.visit(link_hash, rate_keys))[0] == [2, 2]
    assert await store.visit("0" * 64, rate_keys) == ([3, 3], None)  # an unknown link is counted too


async def test_one_claim_per_link_generation(store):
    _, link = link_event("https://e.example")
    first = completion_event(link.order_key, link.items, {"L1:name": "a"}, {})
    second = completion_event(link.order_key, link.items, {"L1:name": "b"}, {})
    assert await store.claim(first, 1) and not await store.claim(second, 1)
    assert await store.claim(second, 2)  # a newer link may complete again


async def test_a_completion_the_broker_did_not_take_is_republished_with_the_same_id(store, bus):
    _, link = link_event("https://e.example")
    event = completion_event(link.order_key, link.items, {"L1:name": "Grace"}, {})
    assert await complete(store, BrokerDown(), event, 1)  # the customer is thanked: the claim holds it
    assert event.event_id in [e.event_id for e in await store.unpublished(older_than=9e9)]
    assert not await complete(store, bus["producer"], event, 1)  # a retried POST publishes nothing
    assert await Republisher(store, bus["producer"], grace_s=0).once() >= 1
    seen = await bus["recorder"].wait_for(link.order_key, lambda es: len(es) >= 1)
    assert [e.event_id for e in seen if isinstance(e, PersonalizationCompleted)] == [event.event_id]
    assert event.event_id not in [e.event_id for e in await store.unpublished(older_than=9e9)]
    assert await store._redis.zscore(UNPUBLISHED, link.order_key) is None
