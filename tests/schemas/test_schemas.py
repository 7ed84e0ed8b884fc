"""The wire contract: names, envelope, money as strings, and refusal of what does not fit."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas import (
    EVENTS_BY_TOPIC,
    ORDERS_COMMANDS,
    ORDERS_RECEIVED,
    STORES,
    ApproveOrder,
    OrderReceived,
    StoreConnected,
    StoreDisconnected,
    StoreUpdated,
    decode,
    encode,
    store_key,
)
from tests.builders import MANUAL, mug, order


def test_every_event_round_trips_through_json_with_its_envelope():
    received = order(MANUAL, [mug()])
    wire = json.loads(encode(received))
    assert {"event_id", "event_type", "schema_version", "occurred_at", "order_key"} <= wire.keys()
    assert wire["event_type"] == "OrderReceived" and wire["schema_version"] == 1
    assert wire["occurred_at"].endswith("Z")
    assert wire["total"] == "23.50" and wire["line_items"][0]["unit_price"] == "14.50"
    assert decode(ORDERS_RECEIVED, encode(received)) == received


def test_times_are_normalized_to_utc():
    paris = timezone(timedelta(hours=1))
    event = ApproveOrder(order_key="a:b:c", occurred_at=datetime(2026, 1, 1, 13, 0, tzinfo=paris))
    assert json.loads(encode(event))["occurred_at"] == "2026-01-01T12:00:00Z"


def test_naive_times_are_refused():
    with pytest.raises(ValidationError):
        ApproveOrder(order_key="a:b:c", occurred_at=datetime(2026, 1, 1, 12, 0))


def test_money_must_be_a_decimal_string_never_a_float():
    wire = json.loads(encode(order(MANUAL, [mug()])))
    wire["total"] = 23.5
    with pytest.raises(ValidationError, match="total"):
        decode(ORDERS_RECEIVED, json.dumps(wire).encode())
    wire["total"] = "23,50"
    with pytest.raises(ValidationError, match="total"):
        decode(ORDERS_RECEIVED, json.dumps(wire).encode())


def test_order_key_must_agree_with_platform_store_and_order_id():
    wire = json.loads(encode(order(MANUAL, [mug()])))
    wire["order_key"] = "woocommerce:someone-else:1"
    with pytest.raises(ValidationError, match="order_key"):
        decode(ORDERS_RECEIVED, json.dumps(wire).encode())


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe", b"[]", b"{}", b'{"event_type": "ApproveOrder"}', b"null"])
def test_garbage_does_not_decode(raw):
    with pytest.raises(ValueError):
        decode(ORDERS_COMMANDS, raw)


def test_an_event_on_the_wrong_topic_does_not_decode():
    with pytest.raises(ValueError):
        decode(ORDERS_COMMANDS, encode(order(MANUAL, [mug()])))


def test_unknown_fields_are_refused_so_a_producer_typo_fails_loudly():
    wire = json.loads(encode(ApproveOrder(order_key="a:b:c")))
    wire["reasn"] = "typo"
    with pytest.raises(ValidationError, match="reasn"):
        decode(ORDERS_COMMANDS, json.dumps(wire).encode())


def test_the_public_event_names_are_exactly_the_contract():
    names = {topic: sorted(e.__name__ for e in events) for topic, events in EVENTS_BY_TOPIC.items()}
    assert names == {
        "orders.received": ["OrderReceived", "OrderUpdated"],
        "orders.status": ["OrderStatusChanged"],
        "personalization.requested": ["PersonalizationRequested"],
        "personalization.completed": ["PersonalizationCompleted"],
        "personalization.link-issued": ["PersonalizationLinkIssued"],
        "personalization.link-activity": [
            "PersonalizationLinkExpired",
            "PersonalizationLinkOpened",
            "PersonalizationReminderSent",
        ],
        "orders.commands": ["ApproveOrder", "CancelOrder", "ResendLink"],
        "fulfillment.requested": ["FulfillmentRequested"],
        "dead-letters": ["DeadLetter"],
        "stores.email-changes": ["MerchantEmailChangeRequested"],
        "stores": ["StoreConnected", "StoreDisconnected", "StoreUpdated"],
    }
    fields = set(OrderReceived.model_fields)
    assert {
        "platform",
        "store_id",
        "platform_order_id",
        "order_number",
        "placed_at",
        "payment_status",
        "is_test",
        "currency",
        "total",
        "customer",
        "shipping_address",
        "line_items",
    } <= fields


@pytest.mark.parametrize("stamp", ["event_id", "occurred_at"])
def test_an_event_without_its_id_or_time_on_the_wire_does_not_decode(stamp):
    """Given a fresh id or time at each read, a redelivered message would look new to every consumer's dedupe,
    and two reads of one message would differ (found by the consume-loop fuzz)."""
    wire = json.loads(encode(ApproveOrder(order_key="a:b:c")))
    del wire[stamp]
    with pytest.raises(ValueError, match=stamp):
        decode(ORDERS_COMMANDS, json.dumps(wire).encode())
    raw = encode(ApproveOrder(order_key="a:b:c"))
    assert decode(ORDERS_COMMANDS, raw) == decode(ORDERS_COMMANDS, raw)


def test_a_store_event_keyed_by_another_store_is_refused():
    with pytest.raises(ValidationError, match="order_key"):
        StoreConnected(order_key="woocommerce:a", platform="woocommerce", store_id="b", merchant_email="m@example.com")


def test_store_events_carry_no_credentials_field():
    # The registry keeps credentials sealed; an event with a place for them would invite one in.
    for event in (StoreConnected, StoreUpdated, StoreDisconnected):
        assert not {"credentials", "webhook_secret", "token", "access_token"} & set(event.model_fields)
    wire = encode(StoreDisconnected(order_key=store_key("etsy", "1"), platform="etsy", store_id="1", reason="x"))
    assert decode(STORES, wire).event_type == "StoreDisconnected"
