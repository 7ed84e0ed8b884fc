"""Core's batch handler: events of one order applied in order, lost writes re-decided, refusals reported."""

from __future__ import annotations

from datetime import timedelta

from aiokafka import ConsumerRecord

from core.decide import Policy
from core.handlers import CoreHandler
from core.store import MemoryOrderStore
from personalize.consumer import Received
from schemas import ApproveOrder, FulfillmentRequested, OrderStatusChanged
from tests.builders import AUTO, MANUAL, T0, load_test_config, mug, order, plain

POLICY = Policy(load_test_config(), timedelta(minutes=15))


def received(event, offset=0) -> Received:
    record = ConsumerRecord("t", 0, offset, 0, 0, event.order_key.encode(), b"", None, 0, 0, [])
    return Received(record, event)


async def test_a_batch_applies_each_orders_events_in_arrival_order():
    store = MemoryOrderStore()
    handler = CoreHandler(store, POLICY, lambda: T0)
    a, b = order(MANUAL, [mug()]), order(AUTO, [plain()])
    outcome = await handler([received(a), received(b), received(ApproveOrder(order_key=a.order_key))])
    moves = [(e.order_key, e.to_status.value) for e in outcome.outgoing if isinstance(e, OrderStatusChanged)]
    assert moves == [(a.order_key, "pending_personalization"), (a.order_key, "in_fulfillment"),
                     (b.order_key, "in_fulfillment")]
    assert sum(isinstance(e, FulfillmentRequested) for e in outcome.outgoing) == 2


async def test_a_lost_write_is_re_read_and_decided_again():
    store = MemoryOrderStore()
    a = order(MANUAL, [mug()])
    handler = CoreHandler(store, POLICY, lambda: T0)
    await handler([received(a)])

    class Racing(MemoryOrderStore):
        """Another core copy cancels the order right after we read it, once."""

        raced = False

        async def save_many(self, writes):
            if not self.raced:
                self.raced = True
                version, _ = store.rows[a.order_key]
                self.rows[a.order_key] = (version + 1, self.rows[a.order_key][1])
            return await super().save_many(writes)

    racing = Racing()
    racing.rows = dict(store.rows)
    outcome = await CoreHandler(racing, POLICY, lambda: T0)([received(ApproveOrder(order_key=a.order_key))])
    assert racing.raced
    assert [e.to_status.value for e in outcome.outgoing if isinstance(e, OrderStatusChanged)] == ["in_fulfillment"]


async def test_refused_events_are_reported_with_their_reason():
    outcome = await CoreHandler(MemoryOrderStore(), POLICY, lambda: T0)([received(order(("wix", "ghost"), [mug()]))])
    ((item, reason),) = outcome.rejected
    assert "unknown store" in reason and outcome.outgoing == []


async def test_an_event_twice_in_one_batch_is_acted_on_once():
    a = order(MANUAL, [mug()])
    outcome = await CoreHandler(MemoryOrderStore(), POLICY, lambda: T0)([received(a), received(a, 1)])
    assert [e.event_type for e in outcome.outgoing] == ["OrderStatusChanged", "PersonalizationRequested"]


async def test_the_same_event_in_another_message_of_a_later_batch_publishes_nothing():
    handler = CoreHandler(MemoryOrderStore(), POLICY, lambda: T0)
    a = order(MANUAL, [plain()])
    await handler([received(a, offset=3)])
    approve = ApproveOrder(order_key=a.order_key)
    first = await handler([received(approve, offset=4)])
    again = await handler([received(approve, offset=9)])  # a producer's retry: a second message
    assert sum(isinstance(e, FulfillmentRequested) for e in first.outgoing) == 1
    assert again.outgoing == [] and again.rejected == []


async def test_a_redelivered_message_republishes_the_same_events():
    store = MemoryOrderStore()
    handler = CoreHandler(store, POLICY, lambda: T0)
    a = order(MANUAL, [mug()])
    first = await handler([received(a)])
    again = await handler([received(a)])
    assert [e.event_id for e in again.outgoing] == [e.event_id for e in first.outgoing]
