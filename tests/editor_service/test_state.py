"""The editor's state (`editor_service/store.py`): one contract run against the in-memory twin and against Redis,
then the publishing guarantee on the real Redis and broker."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.errors import KafkaConnectionError
from redis.asyncio import Redis

from editor_service.claims import Claim
from editor_service.completion import Republisher, complete, completion_event
from editor_service.memory import MemoryEditorStore
from editor_service.opened import opened_event
from editor_service.state import UNPUBLISHED, EditorStore
from editor_service.store import DRAFT_TTL_S, RETENTION_S, EditorState
from schemas import OrderStatus, OrderStatusChanged, PersonalizationCompleted
from tests.editor_service.conftest import editor_store, link_event
from tests.editor_service.fakes import ManualClock
from tests.support import unique_id


class BrokerDown:
    """A producer whose broker is unreachable."""

    async def send(self, *args: object, **kwargs: object) -> None:
        raise KafkaConnectionError("broker unreachable")


def change(key: str, to: OrderStatus, at: datetime) -> OrderStatusChanged:
    return OrderStatusChanged(order_key=key, from_status=None, to_status=to, reason="t", occurred_at=at)


def a_hash() -> str:
    """Stands for a token's SHA-256."""
    return hashlib.sha256(unique_id().encode()).hexdigest()


def completion_claim(completion: PersonalizationCompleted, sequence: int) -> Claim:
    return Claim(completion.order_key, completion.event_id, completion.model_dump_json(), sequence)


class EditorStateContract:
    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    @pytest.fixture
    def store(self, clock: ManualClock) -> EditorState:
        raise NotImplementedError

    async def test_an_older_status_never_overwrites_a_newer_one(self, store):
        _, link = link_event("https://e.example")
        link_hash = a_hash()
        await store.record_link(link, link_hash)
        now = datetime.now(UTC)
        assert await store.record_status(change(link.order_key, OrderStatus.CANCELLED, now)) == "recorded"
        assert (
            await store.record_status(
                change(link.order_key, OrderStatus.PENDING_PERSONALIZATION, now - timedelta(seconds=1))
            )
            == "stale"
        )
        assert (await store.view(link_hash)).status == "cancelled"

    async def test_the_newest_link_sets_the_items_whatever_order_they_arrive_in(self, store):
        number, first_hash = unique_id(), a_hash()
        _, second = link_event("https://e.example", number=number, sequence=2, buyer_text="new")
        _, first = link_event("https://e.example", number=number, sequence=1, buyer_text="old")
        await store.record_link(second, a_hash())
        await store.record_link(first, first_hash)
        seen = await store.view(first_hash)
        assert seen.sequence == 1 and seen.latest_seq == 2 and seen.items[0].buyer_personalization == "new"

    async def test_a_page_view_reads_in_one_script_what_view_reads_and_counts_each_rate_key(self, store):
        _, link = link_event("https://e.example", number=unique_id())
        link_hash = a_hash()
        await store.record_link(link, link_hash)
        await store.record_status(change(link.order_key, OrderStatus.PENDING_PERSONALIZATION, datetime.now(UTC)))
        await store.save_draft(link.order_key, {"L1:name": "Ada"})
        await store.completions.claim(
            completion_claim(completion_event(link.order_key, link.items, {"L1:name": "a"}, {}), 1)
        )
        rate_keys = [f"t:{link_hash}", f"a:{unique_id()}"]
        (per_link, per_address), seen = await store.visit(link_hash, rate_keys)
        assert (per_link, per_address) == (1, 1) and seen == await store.view(link_hash)
        assert seen.draft == {"L1:name": "Ada"} and seen.completed_seq == 1 and seen.status == "pending_personalization"
        assert (await store.visit(link_hash, rate_keys))[0] == [2, 2]
        assert await store.visit(a_hash(), rate_keys) == ([3, 3], None)  # an unknown link is counted too

    async def test_one_claim_per_link_generation(self, store):
        _, link = link_event("https://e.example")
        first = completion_event(link.order_key, link.items, {"L1:name": "a"}, {})
        second = completion_event(link.order_key, link.items, {"L1:name": "b"}, {})
        assert await store.completions.claim(completion_claim(first, 1))
        assert not await store.completions.claim(completion_claim(second, 1))
        assert await store.completions.claim(completion_claim(second, 2))  # a newer link may complete again

    async def test_the_view_shows_the_link_and_no_status_before_core_sent_one(self, store):
        _, link = link_event("https://e.example", expires_in=timedelta(days=3))
        link_hash = a_hash()
        await store.record_link(link, link_hash)
        seen = await store.view(link_hash)
        assert (seen.order_key, seen.link_id, seen.sequence, seen.latest_seq, seen.order_number, seen.is_test) == (
            link.order_key,
            link.link_id,
            1,
            1,
            link.order_number,
            False,
        )
        assert (seen.platform, seen.store_id, seen.expires) == (
            "woocommerce",
            "shop-manual",
            link.expires_at.timestamp(),
        )
        assert seen.items == link.items and seen.status is None and seen.completed_seq is None
        assert seen.draft == {} and not seen.opened
        assert await store.view(a_hash()) is None

    async def test_a_status_that_came_before_the_link_is_shown_with_it(self, store):
        _, link = link_event("https://e.example", sequence=3)
        link_hash = a_hash()
        await store.record_status(change(link.order_key, OrderStatus.PENDING_APPROVAL, datetime.now(UTC)))
        await store.record_link(link, link_hash)
        seen = await store.view(link_hash)
        assert (seen.status, seen.latest_seq, seen.items) == ("pending_approval", 3, link.items)

    async def test_a_first_open_is_shown_on_its_own_link_and_a_completion_on_every_link_of_the_order(self, store):
        number, first_hash, second_hash = unique_id(), a_hash(), a_hash()
        _, first = link_event("https://e.example", number=number, sequence=1)
        _, second = link_event("https://e.example", number=number, sequence=2)
        await store.record_link(first, first_hash)
        await store.record_link(second, second_hash)
        opened = opened_event(await store.view(first_hash), datetime.now(UTC))
        await store.first_opens.claim(Claim(opened.link_id, opened.event_id, opened.model_dump_json()))
        assert (await store.view(first_hash)).opened and not (await store.view(second_hash)).opened
        done = completion_event(first.order_key, second.items, {"L1:name": "Grace"}, {})
        await store.completions.claim(completion_claim(done, 2))
        assert [(await store.view(h)).completed_seq for h in (first_hash, second_hash)] == [2, 2]

    async def test_a_saved_draft_replaces_the_last_one(self, store):
        _, link = link_event("https://e.example")
        link_hash = a_hash()
        await store.record_link(link, link_hash)
        await store.save_draft(link.order_key, {"L1:name": "Ad"})
        await store.save_draft(link.order_key, {"L1:name": "Ada", "L1:motif": "heart"})
        assert (await store.view(link_hash)).draft == {"L1:name": "Ada", "L1:motif": "heart"}

    async def test_each_rate_window_counts_from_one(self, store, clock):
        rate_keys = [f"a:{unique_id()}"]
        assert (await store.visit(a_hash(), rate_keys, window_s=60))[0] == [1]
        assert (await store.visit(a_hash(), rate_keys, window_s=60))[0] == [2]
        clock.advance(60)
        assert (await store.visit(a_hash(), rate_keys, window_s=60))[0] == [1]


class TestMemoryEditorStore(EditorStateContract):
    @pytest.fixture
    def store(self, clock: ManualClock) -> MemoryEditorStore:
        return MemoryEditorStore(clock)

    async def test_a_draft_is_kept_for_its_ttl_and_the_rest_for_the_retention_after_its_last_write(self, store, clock):
        _, link = link_event("https://e.example")
        link_hash = a_hash()
        await store.record_link(link, link_hash)
        await store.save_draft(link.order_key, {"L1:name": "Ada"})
        clock.advance(DRAFT_TTL_S)
        assert (await store.view(link_hash)).draft == {}
        await store.record_status(change(link.order_key, OrderStatus.CANCELLED, datetime.now(UTC)))
        clock.advance(RETENTION_S - DRAFT_TTL_S)
        assert await store.view(link_hash) is None  # the link went; its order's status is kept longer
        await store.record_link(link, link_hash)
        assert (await store.view(link_hash)).status == "cancelled"


class TestRedisEditorStore(EditorStateContract):
    @pytest.fixture
    async def redis_db(self, redis_url: str) -> AsyncIterator[Redis]:
        """A database of its own: an editor running on the session's Redis must not republish these claims."""
        client = Redis.from_url(redis_url.rsplit("/", 1)[0] + "/9")
        yield client
        await client.aclose()

    @pytest.fixture
    def store(self, clock: ManualClock, redis_db: Redis) -> EditorStore:
        return EditorStore(redis_db, clock)

    async def test_the_keys_expire_as_the_twin_forgets(self, store, redis_db, clock):
        _, link = link_event("https://e.example")
        link_hash, address = a_hash(), unique_id()
        await store.record_link(link, link_hash)
        await store.save_draft(link.order_key, {"L1:name": "Ada"})
        await store.visit(link_hash, [f"a:{address}"], window_s=60)
        assert 118 <= await redis_db.ttl(f"editor:rate:a:{address}:{int(clock()) // 60}") <= 120
        assert RETENTION_S - 5 < await redis_db.ttl(f"editor:link:{link_hash}") <= RETENTION_S
        assert RETENTION_S - 5 < await redis_db.ttl(f"editor:order:{link.order_key}") <= RETENTION_S
        assert DRAFT_TTL_S - 5 < await redis_db.ttl(f"editor:draft:{link.order_key}") <= DRAFT_TTL_S


# --- the publishing guarantee, on the real Redis and broker -----------------------------------------------


@pytest.fixture
async def redis_store(servers: dict) -> AsyncIterator[EditorStore]:
    async with editor_store(servers, 5) as store:
        yield store


async def test_a_completion_the_broker_did_not_take_is_republished_with_the_same_id(redis_store, bus):
    store = redis_store
    _, link = link_event("https://e.example")
    event = completion_event(link.order_key, link.items, {"L1:name": "Grace"}, {})
    assert await complete(store, BrokerDown(), event, 1)  # the customer is thanked: the claim holds it
    assert event.event_id in [c.event_id for c in await store.completions.due(0)]
    assert not await complete(store, bus["producer"], event, 1)  # a retried POST publishes nothing
    assert await Republisher(store, bus["producer"], grace_s=0).once() >= 1
    seen = await bus["recorder"].wait_for(link.order_key, lambda es: len(es) >= 1)
    assert [e.event_id for e in seen if isinstance(e, PersonalizationCompleted)] == [event.event_id]
    assert event.event_id not in [c.event_id for c in await store.completions.due(0)]
    assert await store._redis.zscore(UNPUBLISHED, link.order_key) is None
