"""Core's batch handler: events of one order applied in order, lost writes re-decided, refusals reported."""

from __future__ import annotations

from datetime import timedelta

from aiokafka import ConsumerRecord

from core.directory import StaticConfig
from core.handlers import CoreHandler
from core.store import MemoryOrderStore
from plumbing.config import Config
from plumbing.consumer import Received
from schemas import ApproveOrder, FulfillmentRequested, OrderStatus, OrderStatusChanged, encode
from tests.builders import AUTO, MANUAL, T0, load_test_config, mug, order, plain

CONFIG = StaticConfig(load_test_config())
DELAY = timedelta(minutes=15)


def received(event, offset=0) -> Received:
    # The event as the consumer decodes it from the message: core stores an order's snapshot as it came.
    record = ConsumerRecord("t", 0, offset, 0, 0, event.order_key.encode(), encode(event), None, 0, 0, [])
    return Received(record, event)


async def test_a_batch_applies_each_orders_events_in_arrival_order():
    store = MemoryOrderStore()
    handler = CoreHandler(store, CONFIG, DELAY, lambda: T0)
    a, b = order(MANUAL, [mug()]), order(AUTO, [plain()])
    outcome = await handler([received(a), received(b), received(ApproveOrder(order_key=a.order_key))])
    moves = [(e.order_key, e.to_status.value) for e in outcome.outgoing if isinstance(e, OrderStatusChanged)]
    assert moves == [
        (a.order_key, "pending_personalization"),
        (a.order_key, "in_fulfillment"),
        (b.order_key, "in_fulfillment"),
    ]
    assert sum(isinstance(e, FulfillmentRequested) for e in outcome.outgoing) == 2


async def test_a_lost_write_is_re_read_and_decided_again():
    store = MemoryOrderStore()
    a = order(MANUAL, [mug()])
    handler = CoreHandler(store, CONFIG, DELAY, lambda: T0)
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
    outcome = await CoreHandler(racing, CONFIG, DELAY, lambda: T0)([received(ApproveOrder(order_key=a.order_key))])
    assert racing.raced
    assert [e.to_status.value for e in outcome.outgoing if isinstance(e, OrderStatusChanged)] == ["in_fulfillment"]


async def test_refused_events_are_reported_with_their_reason():
    outcome = await CoreHandler(MemoryOrderStore(), CONFIG, DELAY, lambda: T0)(
        [received(order(("wix", "ghost"), [mug()]))]
    )
    ((_, reason),) = outcome.rejected
    assert "unknown store" in reason and outcome.outgoing == []


async def test_an_event_twice_in_one_batch_is_acted_on_once():
    a = order(MANUAL, [mug()])
    outcome = await CoreHandler(MemoryOrderStore(), CONFIG, DELAY, lambda: T0)([received(a), received(a, 1)])
    assert [e.event_type for e in outcome.outgoing] == ["OrderStatusChanged", "PersonalizationRequested"]


async def test_the_same_event_in_another_message_of_a_later_batch_publishes_nothing():
    handler = CoreHandler(MemoryOrderStore(), CONFIG, DELAY, lambda: T0)
    a = order(MANUAL, [plain()])
    await handler([received(a, offset=3)])
    approve = ApproveOrder(order_key=a.order_key)
    first = await handler([received(approve, offset=4)])
    again = await handler([received(approve, offset=9)])  # a producer's retry: a second message
    assert sum(isinstance(e, FulfillmentRequested) for e in first.outgoing) == 1
    assert again.outgoing == [] and again.rejected == []


async def test_a_redelivered_message_republishes_the_same_events():
    store = MemoryOrderStore()
    handler = CoreHandler(store, CONFIG, DELAY, lambda: T0)
    a = order(MANUAL, [mug()])
    first = await handler([received(a)])
    again = await handler([received(a)])
    assert [e.event_id for e in again.outgoing] == [e.event_id for e in first.outgoing]


class Switchable:
    """A config source the test changes between batches, as a merchant changes settings through the API."""

    def __init__(self, config) -> None:
        self.current = config
        self.reads = 0

    async def config(self):
        self.reads += 1
        return self.current


async def test_the_config_is_read_once_per_batch_so_a_change_applies_to_the_next_batch():
    config = load_test_config()
    source = Switchable(config)
    handler = CoreHandler(MemoryOrderStore(), source, DELAY, lambda: T0)
    outcome = await handler([received(order(MANUAL, [plain()])), received(order(MANUAL, [plain()]))])
    assert source.reads == 1
    moves = [e.to_status.value for e in outcome.outgoing if isinstance(e, OrderStatusChanged)]
    assert moves == ["pending_approval"] * 2

    stores = [
        s.model_copy(update={"approval": "automatic"}) if s.store_id == "shop-manual" else s for s in config.stores
    ]
    source.current = Config.model_construct(templates=config.templates, stores=stores)
    outcome = await handler([received(order(MANUAL, [plain()]))])
    assert [e.to_status.value for e in outcome.outgoing if isinstance(e, OrderStatusChanged)] == ["in_fulfillment"]


async def test_each_write_keeps_the_listing_index_by_store_and_status():
    store = MemoryOrderStore()
    handler = CoreHandler(store, CONFIG, DELAY, lambda: T0)
    a = order(MANUAL, [mug()])

    async def listed(status):
        return (await store.page("woocommerce:shop-manual", status, None, 10)).order_keys

    await handler([received(a)])
    assert await listed(OrderStatus.PENDING_PERSONALIZATION) == [a.order_key]
    await handler([received(ApproveOrder(order_key=a.order_key), offset=1)])
    assert await listed(OrderStatus.PENDING_PERSONALIZATION) == []
    assert await listed(OrderStatus.IN_FULFILLMENT) == await listed(None) == [a.order_key]
