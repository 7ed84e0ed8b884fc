"""One valid event of every type on the wire, the seeds that schema-breaking mutations start from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import (
    EVENTS_BY_TOPIC,
    Address,
    ApproveOrder,
    Asset,
    CancelOrder,
    CompletedItem,
    DeadLetter,
    Event,
    FulfillmentLine,
    FulfillmentRequested,
    MerchantEmailChangeRequested,
    OrderStatus,
    OrderStatusChanged,
    PersonalizationCompleted,
    PersonalizationLinkExpired,
    PersonalizationLinkIssued,
    PersonalizationLinkOpened,
    PersonalizationReminderSent,
    PersonalizationRequested,
    RequestedItem,
    ResendLink,
    StoreConnected,
    StoreDisconnected,
    StoreUpdated,
)
from tests.builders import MANUAL, load_test_config, mug, order, plain, updated

T = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
KEY = "woocommerce:shop-manual:1001"


def samples() -> dict[str, Event]:
    """By event type name: a valid, fully filled-in event."""
    template = load_test_config().template("name-mug")
    item = RequestedItem(line_id="L1", title="Name mug", quantity=1, template=template, buyer_personalization="Ada")
    received = order(
        MANUAL,
        [mug("L1"), plain("L2")],
        number="1001",
        shipping_address=Address(name="Ada", line1="1 Main St", city="Paris", country="FR"),
    )
    link = {
        "link_id": "abc123",
        "sequence": 1,
        "store_id": "shop-manual",
        "platform": "woocommerce",
        "order_number": "1001",
        "order_key": KEY,
        "occurred_at": T,
    }
    built = [
        received,
        updated(received, payment_status="refunded"),
        OrderStatusChanged(
            order_key=KEY,
            from_status=None,
            to_status=OrderStatus.PENDING_PERSONALIZATION,
            reason="needs personalization",
            occurred_at=T,
        ),
        PersonalizationRequested(
            order_key=KEY,
            store_id="shop-manual",
            platform="woocommerce",
            order_number="1001",
            merchant_email="m@example.com",
            received_at=T,
            notify_after=T + timedelta(minutes=15),
            items=[item],
        ),
        PersonalizationCompleted(
            order_key=KEY,
            items=[
                CompletedItem(
                    line_id="L1",
                    fields={"name": "Grace", "photo": "file:///a/b.png"},
                    assets=[Asset(field="photo", uri="file:///a/b.png", media_type="image/png", sha256="0" * 64)],
                )
            ],
        ),
        PersonalizationLinkIssued(
            url="https://p.example.com/p/" + "t" * 43,
            expires_at=T + timedelta(days=7),
            merchant_email="m@example.com",
            items=[item],
            **link,
        ),
        PersonalizationLinkOpened(**link),
        PersonalizationLinkExpired(expired_at=T, **link),
        PersonalizationReminderSent(reminder=1, recipient="merchant", expires_at=T + timedelta(days=7), **link),
        ApproveOrder(order_key=KEY, reason="ok"),
        CancelOrder(order_key=KEY),
        ResendLink(order_key=KEY),
        FulfillmentRequested(
            order_key=KEY,
            platform="woocommerce",
            store_id="shop-manual",
            order_number="1001",
            line_items=[
                FulfillmentLine(
                    **mug("L1").model_dump(), personalization=CompletedItem(line_id="L1", fields={"n": "x"})
                )
            ],
        ),
        DeadLetter(
            order_key=KEY,
            source_topic="orders.received",
            partition=0,
            offset=7,
            consumer="core",
            error="cannot decode",
            raw="AAEC",
        ),
        MerchantEmailChangeRequested(
            order_key="woocommerce:shop-manual",
            platform="woocommerce",
            store_id="shop-manual",
            field="merchant_email",
            new_address="new@example.com",
            current_address="m@example.com",
            confirm_url="https://api.example.com/stores/woocommerce:shop-manual/email-change/confirm?token=" + "t" * 43,
            expires_at=T + timedelta(days=1),
            occurred_at=T,
        ),
        StoreConnected(
            order_key="woocommerce:shop-new",
            platform="woocommerce",
            store_id="shop-new",
            merchant_email="m@example.com",
            occurred_at=T,
        ),
        StoreUpdated(
            order_key="woocommerce:shop-new",
            platform="woocommerce",
            store_id="shop-new",
            merchant_email="n@example.com",
            occurred_at=T,
        ),
        StoreDisconnected(
            order_key="woocommerce:shop-new", platform="woocommerce", store_id="shop-new", reason="r", occurred_at=T
        ),
    ]
    return {type(event).__name__: event for event in built}


def missing_samples() -> set[str]:
    """Event types on some topic with no sample here (a new event type should get one)."""
    every = {event.__name__ for types in EVENTS_BY_TOPIC.values() for event in types}
    return every - set(samples())
