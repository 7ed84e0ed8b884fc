"""Publish once per key (`editor_service/once.py`), for completions and first opens, without Redis or a broker:
the in-memory store (its contract with Redis is `test_claims.py`), a fake broker and a clock moved by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from editor_service.claims import Claim
from editor_service.completion import COMPLETION, Republisher, complete, completion_event
from editor_service.memory import MemoryClaims, MemoryEditorStore
from editor_service.once import Outcome
from editor_service.opened import opened_event, report_first_open
from editor_service.republisher import REPUBLISH_GRACE_S
from editor_service.republisher import Republisher as AnyRepublisher
from editor_service.store import LinkView
from schemas import PersonalizationCompleted, PersonalizationLinkOpened
from tests.editor_service.conftest import link_event
from tests.editor_service.fakes import FakeBroker, ManualClock
from tests.support import unique_id

GRACE = REPUBLISH_GRACE_S


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> MemoryEditorStore:
    return MemoryEditorStore(clock)


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker()


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def completion(name: str = "Grace", key: str | None = None) -> PersonalizationCompleted:
    _, link = link_event("https://e.example", number=unique_id())
    return completion_event(key or link.order_key, link.items, {"L1:name": name}, {})


async def live_link(store: MemoryEditorStore, link_hash: str = "a-link") -> LinkView:
    _, link = link_event("https://e.example", number=unique_id())
    await store.record_link(link, link_hash)
    view = await store.view(link_hash)
    assert view is not None
    return view


def claim_of(event: PersonalizationCompleted | PersonalizationLinkOpened, key: str, generation: int | None) -> Claim:
    return Claim(key, event.event_id, event.model_dump_json(), generation)


async def test_of_concurrent_submissions_of_one_order_one_is_published_and_the_rest_publish_nothing(store, broker):
    key = completion().order_key
    submissions = [completion(f"name {i}", key) for i in range(10)]
    duplicates = counted("editor_completions_total", result="duplicate")
    answers = await asyncio.gather(*(complete(store, broker, event, 1) for event in submissions))
    assert sorted(answers) == [False] * 9 + [True]
    (winner,) = [e for e, won in zip(submissions, answers, strict=True) if won]
    assert broker.ids() == [winner.event_id]
    assert counted("editor_completions_total", result="duplicate") == duplicates + 9
    assert await store.completions.due(0) == []


async def test_of_concurrent_first_opens_of_a_link_one_is_published(store, broker):
    view = await live_link(store, "a-link")
    now = datetime.now(UTC)
    answers = await asyncio.gather(*(report_first_open(store, broker, view, now) for _ in range(8)))
    assert sorted(answers) == [False] * 7 + [True]
    (opened,) = broker.acknowledged
    assert isinstance(opened, PersonalizationLinkOpened) and opened.link_id == view.link_id
    assert (await store.view("a-link")).opened
    assert not await report_first_open(store, broker, view, now)  # a later open, or one after a restart
    assert len(broker.acknowledged) == 1


async def test_claims_left_by_a_crash_before_their_publish_are_republished_after_the_grace_with_their_ids(
    store, broker, clock
):
    done, view = completion(), await live_link(store)
    opened = opened_event(view, datetime.now(UTC))
    await store.completions.claim(claim_of(done, done.order_key, 1))  # and the editor died
    await store.first_opens.claim(claim_of(opened, opened.link_id, None))
    restarted = Republisher(store, broker)
    clock.advance(GRACE - 1)
    assert await restarted.once() == 0  # a request's own publish may still be under way
    clock.advance(1)
    republished = counted("editor_completions_republished_total")
    assert await restarted.once() == 2
    assert broker.acknowledged == [done, opened]
    assert counted("editor_completions_republished_total") == republished + 1
    clock.advance(3600)
    assert await restarted.once() == 0
    assert not await complete(store, broker, completion(key=done.order_key), 1)
    assert not await report_first_open(store, broker, view, datetime.now(UTC))
    assert broker.ids() == [done.event_id, opened.event_id]


async def test_a_completion_the_broker_refused_is_deferred_and_sent_once_the_broker_is_back(store, broker, clock):
    done = completion()
    broker.down = True
    deferred = counted("editor_completions_total", result="deferred")
    assert await complete(store, broker, done, 1)  # the customer is thanked: the claim holds the event
    assert counted("editor_completions_total", result="deferred") == deferred + 1
    republisher = Republisher(store, broker)
    clock.advance(GRACE)
    assert await republisher.once() == 0  # still down: it stays listed
    broker.down = False
    clock.advance(GRACE)  # the failed attempt's lease runs out
    assert await republisher.once() == 1
    assert broker.ids() == [done.event_id]
    assert (await store.completions.held(done.order_key)).published
    clock.advance(GRACE)
    assert await republisher.once() == 0


async def test_a_publish_the_broker_never_acknowledges_is_deferred_after_the_wait(store, broker, clock):
    done = completion()
    broker.silent = True
    assert await COMPLETION.publish(store.completions, broker, done, 0.01, generation=1) is Outcome.DEFERRED
    broker.silent = False
    clock.advance(GRACE)
    assert await Republisher(store, broker).once() == 1
    assert broker.ids() == [done.event_id]


async def test_nothing_is_republished_once_the_broker_acknowledged(store, broker, clock):
    done, view = completion(), await live_link(store)
    assert await complete(store, broker, done, 1)
    assert await report_first_open(store, broker, view, datetime.now(UTC))
    clock.advance(86400)
    assert await Republisher(store, broker).once() == 0
    assert len(broker.acknowledged) == 2


async def test_a_newer_link_generation_may_complete_again(store, broker):
    first = completion()
    assert await complete(store, broker, first, 1)
    assert not await complete(store, broker, completion(key=first.order_key), 1)
    again = completion(key=first.order_key)
    assert await complete(store, broker, again, 2)
    assert broker.ids() == [first.event_id, again.event_id]


async def test_two_copies_republishing_at_once_send_each_claim_once(store, broker, clock):
    claimed = [completion() for _ in range(5)]
    for event in claimed:
        await store.completions.claim(claim_of(event, event.order_key, 1))
    clock.advance(GRACE)
    sent = await asyncio.gather(Republisher(store, broker).once(), Republisher(store, broker).once())
    assert sum(sent) == 5 and sorted(broker.ids()) == sorted(e.event_id for e in claimed)


class AwayAtFirst(MemoryClaims):
    """Claims whose first listing fails, as when Redis is away."""

    failed = False

    async def due(self, grace_s: float, limit: int = 100, offset: int = 0) -> list[Claim]:
        if not self.failed:
            self.failed = True
            raise RedisConnectionError("Redis away")
        return await super().due(grace_s, limit, offset)


async def test_the_republisher_goes_on_after_a_pass_failed_and_stops_when_told(broker, clock):
    flaky, done = AwayAtFirst(clock), completion()
    await flaky.claim(claim_of(done, done.order_key, 1))
    stop = asyncio.Event()
    running = asyncio.create_task(AnyRepublisher([(COMPLETION, flaky)], broker, tick_s=0.01, grace_s=0).run(stop))
    for _ in range(200):
        if broker.acknowledged:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, 1)
    assert flaky.failed and broker.ids() == [done.event_id]
