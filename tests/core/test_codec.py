"""Core's bytes: the documents and messages are the ones core wrote before `core.codec`, and read back as written."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from core.codec import BatchCodec, order_document, read_order
from core.decide import Policy, apply
from core.order import Order
from plumbing.consumer import Received
from schemas import ApproveOrder, decode, encode
from tests.builders import MANUAL, T0, load_test_config, mug, order, plain
from tests.core.stored_story import tell

POLICY = Policy(load_test_config(), link_delay=timedelta(minutes=15))
BEFORE = json.loads((Path(__file__).parent / "documents_before_codec.json").read_text())
OLD_DOCUMENTS = [(n, key, doc) for n, step in enumerate(BEFORE) for key, doc in step["documents"].items()]


def received(raw: bytes, topic: str = "orders.received") -> Received:
    event = decode(topic, raw)
    return Received(ConsumerRecord(topic, 0, 1, 0, 0, event.order_key.encode(), raw, None, 0, 0, []), event)


def not_canonical(event: object) -> bytes:
    """As a connector of another version might send it: indented, an upper-case id, a time not in UTC."""
    wire = json.loads(encode(event))  # type: ignore[arg-type]
    wire["event_id"] = wire["event_id"].upper()
    wire["occurred_at"] = "2026-11-27T14:00:00+02:00"
    return json.dumps(wire, indent=1).encode()


async def test_core_stores_and_publishes_the_story_byte_for_byte_as_it_did_before_the_codec():
    told = await tell()
    assert len(told) == len(BEFORE)
    for now, before in zip(told, BEFORE, strict=True):
        assert now["published"] == before["published"], f"{before['topic']}@{before['offset']}: published"
        assert now["documents"] == before["documents"], f"{before['topic']}@{before['offset']}: documents"


@pytest.mark.parametrize(("step", "key", "document"), OLD_DOCUMENTS, ids=[f"{n}-{k}" for n, k, _ in OLD_DOCUMENTS])
def test_a_document_the_old_core_wrote_reads_and_writes_back_the_same(step, key, document):
    read = read_order(document)
    assert read.order_key == key
    rewritten = order_document(read)
    assert read_order(rewritten) == read
    if document.index('"received_at"') < document.index('"snapshot"'):  # stored as the message came: not canonical
        assert _but_snapshot(rewritten) == _but_snapshot(document)
    else:
        assert rewritten.decode() == document


def _but_snapshot(document: str | bytes) -> dict:
    return {field: value for field, value in json.loads(document).items() if field != "snapshot"}


def test_a_remembered_input_republishes_the_very_bytes_it_published_first():
    approved = BEFORE[3]
    order_after = read_order(approved["documents"]["woocommerce:shop-manual:1001"])
    (memory,) = [entry for entry in order_after.applied if entry.source == "orders.commands:0:4"]
    decision = apply(order_after, decode("orders.commands", approved["message"].encode()), POLICY, T0)
    assert decision.replayed and decision.outgoing == memory.outgoing
    published = BatchCodec([]).published(decision.outgoing)
    assert [raw.decode() for raw in published.values()] == approved["published"]
    assert list(published) == [event.event_id for event in memory.outgoing]


def test_an_order_stored_with_its_snapshot_as_received_reads_back_the_same():
    raw = not_canonical(order(MANUAL, [mug(), plain()]))
    item = received(raw)
    decided = apply(None, item.event, POLICY, T0, "orders.received:0:1").order
    assert decided is not None

    spliced = BatchCodec([item]).document(decided)
    assert spliced.endswith(b',"snapshot":' + raw + b"}")
    assert read_order(spliced) == decided
    assert read_order(order_document(decided)) == decided


def test_only_the_bytes_this_very_snapshot_came_from_are_stored_as_they_came():
    raw = not_canonical(order(MANUAL, [plain()]))
    decided = apply(None, decode("orders.received", raw), POLICY, T0).order  # decoded apart from the message
    assert decided is not None
    assert BatchCodec([received(raw)]).document(decided) == order_document(decided)


def test_an_order_written_with_its_events_as_objects_still_reads():
    decided = apply(None, order(MANUAL, [mug()]), POLICY, T0, "orders.received:0:1").order
    assert decided is not None
    old = json.loads(order_document(decided))
    for entry in old["applied"]:
        entry["outgoing"] = [json.loads(raw) for raw in entry.pop("events")]

    read = read_order(json.dumps(old))
    assert read == decided
    assert [e.event_id for e in read.applied[0].outgoing] == [e.event_id for e in decided.applied[0].outgoing]
    assert order_document(read) == order_document(decided)


def test_an_order_read_from_its_document_is_the_domains_and_dumps_like_the_one_decided():
    decided = apply(None, order(MANUAL, [mug()]), POLICY, T0, "orders.received:0:1").order
    assert decided is not None
    read = read_order(order_document(decided))
    assert type(read) is Order
    assert read.model_dump_json() == decided.model_dump_json()
    approved = apply(read, ApproveOrder(order_key=read.order_key), POLICY, T0, "orders.commands:0:2").order
    assert approved is not None and len(approved.applied) == 2


def test_the_memory_is_the_orders_last_field_where_the_document_writes_it():
    assert list(Order.model_fields)[-1] == "applied"
