"""What core's shortcuts for speed must leave as it was: stored orders, catalog matches, event ids."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from core.catalog import Catalog
from core.decide import Policy, apply
from core.order import Order
from core.store import document
from plumbing.config import ProductMatch
from schemas import LineItem, OrderStatusChanged, decode, encode
from schemas.envelope import new_event_id
from tests.builders import MANUAL, T0, load_test_config, mug, order, plain

POLICY = Policy(load_test_config(), link_delay=timedelta(minutes=15))


def test_an_order_stored_with_its_snapshot_as_received_reads_back_the_same():
    wire = json.loads(encode(order(MANUAL, [mug(), plain()])))
    wire["event_id"] = wire["event_id"].upper()  # not canonical, and not UTC: validation normalizes both
    wire["occurred_at"] = "2026-11-27T14:00:00+02:00"
    raw = json.dumps(wire, indent=1).encode()
    event = decode("orders.received", raw)
    decided = apply(None, event, POLICY, T0, "orders.received:0:1").order

    assert Order.model_validate_json(document(decided, raw)) == decided
    assert Order.model_validate_json(document(decided)) == decided


def test_an_order_written_with_its_events_as_objects_still_reads():
    decided = apply(None, order(MANUAL, [mug()]), POLICY, T0, "orders.received:0:1").order
    old = json.loads(document(decided))
    for entry in old["applied"]:
        entry["outgoing"] = [json.loads(raw) for raw in entry.pop("events")]

    read = Order.model_validate_json(json.dumps(old))
    assert read == decided
    assert [e.event_id for e in read.applied[0].outgoing] == [e.event_id for e in decided.applied[0].outgoing]


def test_a_line_takes_the_first_listed_product_that_matches_any_of_its_keys():
    config = load_test_config()
    store = config.stores[0].model_copy(
        update={
            "products": [
                ProductMatch(sku="S", template=next(iter(config.templates))),
                ProductMatch(product_id="P", variant_id="V", template=next(iter(config.templates))),
                ProductMatch(product_id="P", template=next(iter(config.templates))),
            ]
        }
    )
    catalog = Catalog(config, store)
    for product_id in ("P", "Q", None):
        for variant_id in ("V", None):
            for sku in ("S", None):
                line = LineItem(
                    line_id="L",
                    product_id=product_id,
                    variant_id=variant_id,
                    sku=sku,
                    title="t",
                    quantity=1,
                    unit_price="1.00",
                )
                expected = next((p for p in store.products if p.matches(line)), None)
                found = catalog.match(line)
                assert (found[0] if found else None) is expected


def test_event_ids_are_canonical_random_uuids_and_other_spellings_are_still_normalized():
    for _ in range(1000):
        made = new_event_id()
        assert str(uuid.UUID(made)) == made and uuid.UUID(made).version == 4
    spelled = "{6F1C1F0E-6A43-4D1E-9A43-0F8D2F3B7C11}"
    event = OrderStatusChanged(event_id=spelled, order_key="k", from_status=None, to_status="cancelled", reason="r")
    assert event.event_id == "6f1c1f0e-6a43-4d1e-9a43-0f8d2f3b7c11"
