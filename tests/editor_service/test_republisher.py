"""The republisher (`editor_service/republisher.py`) against claims that fail: one merchant's claim that can never
be published must not hold back the others, nor be tried forever at the head of the list."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from editor_service.claims import Claim
from editor_service.completion import Republisher
from editor_service.memory import MemoryEditorStore
from editor_service.opened import FIRST_OPEN, opened_event
from editor_service.republisher import REPUBLISH_GRACE_S, dead_letter_of
from plumbing.kafka import DEFAULT_MAX_MESSAGE_BYTES
from schemas import PersonalizationCompleted
from tests.editor_service.fakes import FakeBroker, ManualClock
from tests.editor_service.test_once import claim_of, completion, live_link
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


def set_aside(kind: str) -> float:
    return REGISTRY.get_sample_value("editor_claims_set_aside_total", {"event": kind}) or 0.0


async def claimed(store: MemoryEditorStore, clock: ManualClock, count: int) -> list[PersonalizationCompleted]:
    events = [completion() for _ in range(count)]
    for event in events:
        clock.advance(0.001)  # each claimed after the one before
        await store.completions.claim(claim_of(event, event.order_key, 1))
    return events


async def test_one_merchant_poisons_the_republisher_no_more_its_claims_are_dead_lettered_and_the_others_go_on(
    store, broker, clock
):
    poisoned = Claim("woocommerce:shop-a:1", unique_id(), '{"not": "a completion"}', 1)
    await store.completions.claim(poisoned)
    oversized, failing, *fine = await claimed(store, clock, 4)
    opened = opened_event(await live_link(store), datetime.now(UTC))
    await store.first_opens.claim(Claim("link-x", unique_id(), "{", None))
    await store.first_opens.claim(claim_of(opened, opened.link_id, None))
    broker.too_large, broker.refused = {oversized.event_id}, {failing.event_id}
    completions_set_aside, opens_set_aside = (
        set_aside("PersonalizationCompleted"),
        set_aside("PersonalizationLinkOpened"),
    )
    clock.advance(GRACE)
    assert await Republisher(store, broker).once() == 3
    assert broker.ids() == [*(e.event_id for e in fine), opened.event_id]
    # Never publishable: dead-lettered with the reason and the event, off the list, the claim kept with why.
    letters = {letter.raw: letter for letter in broker.dead_letters()}
    assert len(letters) == 3
    big = letters[base64.b64encode(oversized.model_dump_json().encode()).decode()]
    assert big.order_key == oversized.order_key and big.source_topic == "personalization.completed"
    assert "MessageSizeTooLargeError" in big.error and big.consumer == "editor-republisher"
    assert "ValidationError" in letters[base64.b64encode(poisoned.event.encode()).decode()].error
    assert (await store.completions.held(oversized.order_key)).failed.startswith("never publishable")
    assert set_aside("PersonalizationCompleted") == completions_set_aside + 2
    assert set_aside("PersonalizationLinkOpened") == opens_set_aside + 1
    # The broker away for one: it stays listed, alone, and goes once the broker takes it.
    assert [c.event_id for c in await store.completions.due(0)] == [failing.event_id]
    assert await store.first_opens.due(0) == []
    broker.refused = set()
    clock.advance(GRACE)
    assert await Republisher(store, broker).once() == 1
    assert broker.ids()[-1] == failing.event_id and len(broker.dead_letters()) == 3


async def test_a_hundred_claims_that_keep_failing_do_not_starve_the_newer_ones(store, broker, clock):
    stuck = await claimed(store, clock, 100)  # the broker refuses these, pass after pass
    newer = await claimed(store, clock, 5)
    broker.refused = {e.event_id for e in stuck}
    republisher = Republisher(store, broker)
    clock.advance(GRACE)
    assert await republisher.once() == 0  # the page of the oldest 100, all left listed
    clock.advance(GRACE)  # their leases run out
    assert await republisher.once() == 5  # the next pass reads on past them
    assert broker.ids() == [e.event_id for e in newer]
    assert len(await store.completions.due(0)) == 100
    # That pass reached the end of the list: the next starts again at the oldest.
    broker.refused = set()
    clock.advance(GRACE)
    assert await republisher.once() == 100 and await store.completions.due(0) == []


async def test_a_claim_that_cannot_be_dead_lettered_yet_stays_listed_without_stopping_the_pass(store, broker, clock):
    poisoned = Claim("woocommerce:shop-a:2", unique_id(), "not json", 1)
    await store.completions.claim(poisoned)
    (fine,) = await claimed(store, clock, 1)
    real_send = broker.send

    async def dead_letters_refused(topic: str, **record):
        if topic == "dead-letters":
            raise ConnectionError("broker away")
        return await real_send(topic, **record)

    broker.send = dead_letters_refused
    clock.advance(GRACE)
    assert await Republisher(store, broker).once() == 1 and broker.ids() == [fine.event_id]
    assert [c.key for c in await store.completions.due(0)] == [poisoned.key]  # nothing lost: retried later
    broker.send = real_send
    clock.advance(GRACE)
    await Republisher(store, broker).once()
    assert await store.completions.due(0) == [] and len(broker.dead_letters()) == 1


async def test_a_first_open_claim_dead_letters_under_its_order(store):
    event = opened_event(await live_link(store), datetime.now(UTC))
    letter = dead_letter_of(
        FIRST_OPEN, Claim(event.link_id, event.event_id, event.model_dump_json()), "why", DEFAULT_MAX_MESSAGE_BYTES
    )
    assert letter.order_key == event.order_key and letter.source_topic == "personalization.link-activity"
    assert letter.partition == letter.offset == -1  # it never reached a topic
    assert (
        dead_letter_of(FIRST_OPEN, Claim("l", "x", "[]"), "why", DEFAULT_MAX_MESSAGE_BYTES).order_key == "l"
    )  # not an event: the claim's key
