"""`personalize core` against the real broker and Redis, driven only through the topics by an outside client."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta

from core.directory import Directory
from core.store import RedisOrderStore
from schemas import (
    ApproveOrder,
    CancelOrder,
    Customer,
    DeadLetter,
    FulfillmentRequested,
    OrderReceived,
    OrderStatusChanged,
    PersonalizationLinkIssued,
    PersonalizationLinkOpened,
    PersonalizationRequested,
    ResendLink,
    StoreConnected,
    encode,
)
from tests.builders import AUTO, MANUAL, T0, auto_mug, completed, load_test_config, mug, order, plain, updated
from tests.support import count, send, send_raw, unique_id

SETTLE = 1.0  # after a sentinel is seen, time for anything wrongly published to show up too


def status_is(*wanted: str):
    return lambda events: [e.to_status.value for e in events if isinstance(e, OrderStatusChanged)] == list(wanted)


def has(kind, n=1):
    return lambda events: sum(isinstance(e, kind) for e in events) >= n


def statuses(events) -> list[str]:
    return [e.to_status.value for e in events if isinstance(e, OrderStatusChanged)]


async def test_a_personalizable_order_is_held_and_one_request_names_its_lines(core, producer, recorder):
    received = order(MANUAL, [mug("L1", buyer_personalization="Ada"), plain("L2")])
    await send(producer, received)
    events = await recorder.wait_for(received.order_key, has(PersonalizationRequested))
    assert statuses(events) == ["pending_personalization"]
    (request,) = [e for e in events if isinstance(e, PersonalizationRequested)]
    assert [(i.line_id, i.template.id, i.buyer_personalization) for i in request.items] == [("L1", "name-mug", "Ada")]
    assert request.notify_after - request.received_at == timedelta(minutes=15)
    assert request.received_at == received.occurred_at
    seen = recorder.by_order[received.order_key]
    assert all(s.key == received.order_key.encode() for s in seen)


async def test_a_plain_order_on_an_automatic_store_is_fulfilled(core, producer, recorder):
    received = order(AUTO, [plain("A")])
    await send(producer, received)
    events = await recorder.wait_for(received.order_key, has(FulfillmentRequested))
    assert statuses(events) == ["in_fulfillment"]


async def test_a_plain_order_on_a_manual_store_waits_for_approval(core, producer, recorder):
    received = order(MANUAL, [plain()])
    await send(producer, received)
    await recorder.wait_for(received.order_key, status_is("pending_approval"))
    await asyncio.sleep(SETTLE)
    assert count(recorder.events(received.order_key), FulfillmentRequested) == 0


async def test_completion_fulfills_an_automatic_order_with_its_personalization(core, producer, recorder):
    received = order(AUTO, [auto_mug("L1"), plain("L2")])
    await send(producer, received)
    await recorder.wait_for(received.order_key, has(PersonalizationRequested))
    await send(producer, completed(received.order_key, "L1", name="Grace"))
    events = await recorder.wait_for(received.order_key, has(FulfillmentRequested))
    assert statuses(events) == ["pending_personalization", "in_fulfillment"]
    (fulfillment,) = [e for e in events if isinstance(e, FulfillmentRequested)]
    assert {
        line.line_id: (line.personalization.fields["name"] if line.personalization else None)
        for line in fulfillment.line_items
    } == {"L1": "Grace", "L2": None}


async def test_completion_on_a_manual_store_waits_for_approval_then_approval_fulfills(core, producer, recorder):
    received = order(MANUAL, [mug("L1")])
    await send(producer, received)
    await recorder.wait_for(received.order_key, has(PersonalizationRequested))
    await send(producer, completed(received.order_key, "L1"))
    await recorder.wait_for(received.order_key, status_is("pending_personalization", "pending_approval"))
    await send(producer, ApproveOrder(order_key=received.order_key))
    events = await recorder.wait_for(received.order_key, has(FulfillmentRequested))
    assert statuses(events) == ["pending_personalization", "pending_approval", "in_fulfillment"]


async def test_the_same_order_twice_and_the_same_event_twice_produce_nothing_new(core, producer, recorder):
    received = order(MANUAL, [mug()])
    seen_by_poll = received.model_copy(update={"event_id": "0b8f5f5e-2f0e-4a55-9c4e-1a0d7f3a1b2c"})
    await send(producer, received, received, seen_by_poll)
    await send(producer, updated(received, payment_status="refunded"))  # sentinel: same partition, after them
    events = await recorder.wait_for(received.order_key, status_is("pending_personalization", "cancelled"))
    await asyncio.sleep(SETTLE)
    events = recorder.events(received.order_key)
    assert count(events, PersonalizationRequested) == 1
    assert statuses(events) == ["pending_personalization", "cancelled"]


async def test_approving_twice_fulfills_once_and_cancelled_is_never_fulfilled(core, producer, recorder):
    fulfilled = order(MANUAL, [plain()])
    cancelled = order(MANUAL, [mug()])
    await send(producer, fulfilled, cancelled)
    await recorder.wait_for(cancelled.order_key, has(PersonalizationRequested))
    await recorder.wait_for(fulfilled.order_key, status_is("pending_approval"))
    approve = ApproveOrder(order_key=fulfilled.order_key)
    await send(
        producer,
        approve,
        approve,
        ApproveOrder(order_key=fulfilled.order_key),
        CancelOrder(order_key=cancelled.order_key, reason="changed mind"),
        ApproveOrder(order_key=cancelled.order_key),
        ResendLink(order_key=cancelled.order_key),
    )
    await recorder.wait_for(fulfilled.order_key, has(FulfillmentRequested))
    await recorder.wait_for(cancelled.order_key, status_is("pending_personalization", "cancelled"))
    # Another topic, so no order relative to the commands: sent once the cancel is seen.
    await send(producer, completed(cancelled.order_key, "L1"))
    await asyncio.sleep(SETTLE * 2)
    assert count(recorder.events(fulfilled.order_key), FulfillmentRequested) == 1
    assert statuses(recorder.events(fulfilled.order_key)) == ["pending_approval", "in_fulfillment"]
    assert count(recorder.events(cancelled.order_key), FulfillmentRequested) == 0
    assert count(recorder.events(cancelled.order_key), PersonalizationRequested) == 1


async def test_a_test_order_stops_at_pending_approval_on_an_automatic_store(core, producer, recorder):
    received = order(AUTO, [plain()], is_test=True)
    await send(producer, received)
    await recorder.wait_for(received.order_key, status_is("pending_approval"))
    await asyncio.sleep(SETTLE)
    assert count(recorder.events(received.order_key), FulfillmentRequested) == 0


async def test_an_unpaid_order_waits_until_an_update_says_paid(core, producer, recorder):
    received = order(AUTO, [plain()], payment_status="unpaid")
    await send(producer, received)
    await asyncio.sleep(SETTLE * 2)
    assert statuses(recorder.events(received.order_key)) == []
    await send(producer, updated(received, payment_status="paid"))
    events = await recorder.wait_for(received.order_key, has(FulfillmentRequested))
    assert statuses(events) == ["in_fulfillment"]


async def test_resend_link_publishes_a_request_due_now(core, producer, recorder):
    received = order(MANUAL, [mug()])
    await send(producer, received)
    await recorder.wait_for(received.order_key, has(PersonalizationRequested))
    await send(producer, ResendLink(order_key=received.order_key))
    events = await recorder.wait_for(received.order_key, has(PersonalizationRequested, 2))
    resent = [e for e in events if isinstance(e, PersonalizationRequested)][-1]
    # Due the moment core handled the command (comparing with received_at + 15 min failed once the wall clock
    # passed the builders' fixed T0 + 15 min).
    assert resent.trigger == "resend_requested" and resent.notify_after == resent.occurred_at


async def test_undecodable_bytes_go_to_dead_letters_and_the_partition_moves_on(core, producer, recorder):
    received = order(MANUAL, [plain()])
    key = received.order_key.encode()
    await send_raw(producer, "orders.received", b"\x00\xffnot json", key=key)
    await send(producer, received)
    events = await recorder.wait_for(
        received.order_key, lambda es: has(DeadLetter)(es) and status_is("pending_approval")(es)
    )
    (dead,) = [e for e in events if isinstance(e, DeadLetter)]
    assert dead.source_topic == "orders.received" and dead.consumer == "core"
    assert base64.b64decode(dead.raw) == b"\x00\xffnot json"
    assert "cannot decode" in dead.error and dead.offset >= 0


async def test_schema_breaking_json_is_dead_lettered_naming_the_field(core, producer, recorder):
    received = order(MANUAL, [plain()])
    wire = json.loads(encode(received))
    wire["total"] = 23.5
    raw = json.dumps(wire).encode()
    await send_raw(producer, "orders.received", raw, key=received.order_key.encode())
    await recorder.wait_for(received.order_key, has(DeadLetter))
    (dead,) = recorder.events(received.order_key, DeadLetter)
    assert "total" in dead.error and base64.b64decode(dead.raw) == raw


async def test_an_order_before_its_stores_connected_event_waits_for_it_then_is_decided(core, producer, recorder):
    store_id = f"late-{unique_id()}"
    received = order(("wix", store_id), [mug()])
    await send(producer, received)
    await asyncio.sleep(3)
    assert recorder.events(received.order_key) == [received]  # no dead letter, nothing decided: parked
    connected = StoreConnected(
        order_key=f"wix:{store_id}", platform="wix", store_id=store_id, merchant_email="late@example.com"
    )
    await send(producer, connected)
    events = await recorder.wait_for(received.order_key, has(OrderStatusChanged))
    assert not any(isinstance(e, DeadLetter) for e in events)
    assert sum(isinstance(e, OrderReceived) for e in events) == 2  # the parked message, published again


async def test_a_killed_core_resumes_where_it_committed_losing_and_duplicating_nothing(core, producer, recorder):
    before = order(MANUAL, [mug("L1")])
    await send(producer, before)
    await recorder.wait_for(before.order_key, has(PersonalizationRequested))
    core.kill()
    during = order(AUTO, [plain()])
    await send(producer, during, completed(before.order_key, "L1"))
    core.start()
    await recorder.wait_for(during.order_key, has(FulfillmentRequested), timeout=60)
    await recorder.wait_for(before.order_key, status_is("pending_personalization", "pending_approval"), timeout=60)
    await asyncio.sleep(SETTLE)
    assert count(recorder.events(before.order_key), PersonalizationRequested) == 1
    assert statuses(recorder.events(during.order_key)) == ["in_fulfillment"]


async def test_a_request_carries_the_stores_delivery_and_the_buyers_address(core, producer, recorder):
    received = order(MANUAL, [mug("L1")], customer=Customer(name="Grace Hopper", email="grace@example.com"))
    await send(producer, received)
    (request,) = [
        e
        for e in await recorder.wait_for(received.order_key, has(PersonalizationRequested))
        if isinstance(e, PersonalizationRequested)
    ]
    assert (request.delivery.recipient, request.delivery.customer_email, request.delivery.customer_name) == (
        "merchant",
        "grace@example.com",
        "Grace Hopper",
    )
    assert request.delivery.reminders == [timedelta(days=3), timedelta(days=6)]


async def test_link_events_are_recorded_on_the_order_without_publishing_anything(core, producer, recorder, redis):
    received = order(MANUAL, [mug("L1")])
    await send(producer, received)
    (request,) = [
        e
        for e in await recorder.wait_for(received.order_key, has(PersonalizationRequested))
        if isinstance(e, PersonalizationRequested)
    ]
    link = {
        "order_key": received.order_key,
        "link_id": "lk-1",
        "sequence": 1,
        "store_id": received.store_id,
        "platform": received.platform,
    }
    issued = PersonalizationLinkIssued(
        **link,
        url="http://editor/p/t",
        expires_at=T0 + timedelta(days=7),
        merchant_email="manual@example.com",
        order_number=received.order_number,
        items=request.items,
    )
    opened = PersonalizationLinkOpened(**link, occurred_at=T0 + timedelta(hours=1))
    await send(producer, issued, opened, opened)
    # The completion comes on another topic: sent once the link events are in, so the order records both.
    store = RedisOrderStore(redis)
    await until(lambda: _links(store, received.order_key), lambda links: links and links[0].opened_at is not None)
    await send(producer, completed(received.order_key, "L1"))
    await recorder.wait_for(received.order_key, status_is("pending_personalization", "pending_approval"))
    (recorded,) = await _links(store, received.order_key)
    assert (recorded.issued_at, recorded.opened_at) == (issued.occurred_at, T0 + timedelta(hours=1))
    assert recorded.completed_at is not None
    await asyncio.sleep(SETTLE)
    events = recorder.events(received.order_key)
    assert (count(events, OrderStatusChanged), count(events, PersonalizationRequested)) == (2, 1)
    assert count(events, FulfillmentRequested) == count(events, DeadLetter) == 0


async def test_ship_plain_items_now_set_at_run_time_sends_the_plain_part_at_once(core, producer, recorder, redis):
    directory = Directory(redis, load_test_config())
    before = (await directory.store(*MANUAL)).settings
    await directory.put_settings(*MANUAL, before.model_copy(update={"mixed_orders": "ship_plain_items_now"}))
    try:
        received = order(MANUAL, [mug("L1"), plain("L2")])
        await send(producer, received)
        events = await recorder.wait_for(received.order_key, has(FulfillmentRequested))
        assert statuses(events) == ["pending_personalization"]
        await send(producer, completed(received.order_key, "L1"))
        await recorder.wait_for(received.order_key, status_is("pending_personalization", "pending_approval"))
        await send(producer, ApproveOrder(order_key=received.order_key))
        events = await recorder.wait_for(received.order_key, has(FulfillmentRequested, 2))
    finally:
        await directory.put_settings(*MANUAL, before)
    parts = [(e.part, [line.line_id for line in e.line_items]) for e in events if isinstance(e, FulfillmentRequested)]
    assert parts == [("plain_items", ["L2"]), ("personalized_items", ["L1"])]
    assert statuses(events)[-1] == "in_fulfillment"


async def _links(store: RedisOrderStore, order_key: str):
    found = (await store.load_many([order_key]))[order_key].order
    return found.links if found else []


async def until(read, check, within_s: float = 30):
    """Poll `read()` until `check` holds; for state that shows in Redis rather than on a topic."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not check(value := await read()):
        assert asyncio.get_running_loop().time() < deadline, f"still {value!r}"
        await asyncio.sleep(0.05)
    return value
