"""`dev`'s event printer: every event on every topic as it flows, one line each."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from schemas import (
    EVENTS_BY_TOPIC,
    DeadLetter,
    Event,
    OrderStatusChanged,
    PersonalizationLinkIssued,
    PersonalizationRequested,
    decode,
)


async def print_events(bootstrap: str) -> None:
    """Every event from now on, one line each, until cancelled."""
    consumer = AIOKafkaConsumer(
        *EVENTS_BY_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async for record in consumer:
            try:
                event = decode(record.topic, record.value)
            except ValueError:
                print(f"  {record.topic:<28} (undecodable, {len(record.value or b'')} bytes)", flush=True)
                continue
            print(f"  {record.topic:<28} {event.event_type:<26} {event.order_key}  {describe(event)}", flush=True)
    finally:
        await consumer.stop()


def describe(event: Event) -> str:
    """What moved, for the events that say more than their type and order."""
    if isinstance(event, OrderStatusChanged):
        return f"{event.from_status.value if event.from_status else '∅'} → {event.to_status.value} ({event.reason})"
    if isinstance(event, PersonalizationLinkIssued):
        return f"link {event.sequence} to {event.merchant_email}, expires {event.expires_at:%Y-%m-%d %H:%M} UTC"
    if isinstance(event, PersonalizationRequested):
        return f"link due {event.notify_after:%H:%M:%S} UTC"
    if isinstance(event, DeadLetter):
        return event.error
    return ""
