"""The size check before every publish: an event too large for the brokers is refused before anything is sent,
with an error that is the message's fault, never the infrastructure's (which consumers retry forever)."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaError

from plumbing.consumer import INFRASTRUCTURE_ERRORS
from plumbing.kafka import (
    DEFAULT_MAX_MESSAGE_BYTES,
    MessageTooLarge,
    Producer,
    checked,
    make_producer,
    publish,
    publish_batched,
    record_size,
)
from plumbing.settings import Settings
from schemas import CancelOrder, encode


class Sending(Producer):
    """The real producer class, never started: what `send` and `send_batch` were asked to send."""

    def __init__(self, limit: int) -> None:
        super().__init__(max_message_bytes=limit, bootstrap_servers="127.0.0.1:9")
        self.sent: list[bytes] = []

    async def send(self, topic, value=None, key=None, partition=None, timestamp_ms=None, headers=None):
        self.sent.append(value)
        raise AssertionError("an event was sent")

    async def partitions_for(self, topic):
        return {0}

    async def send_batch(self, batch, topic, *, partition):
        raise AssertionError("a batch was sent")


def cancel(reason_chars: int) -> CancelOrder:
    return CancelOrder(order_key="woocommerce:shop:1", reason="r" * reason_chars)


def sized(size: int) -> CancelOrder:
    """A command whose record is exactly `size` bytes (a longer reason can add a byte of length to the record)."""
    chars = size - record_size(cancel(0), encode(cancel(0)))
    while record_size(event := cancel(chars), encode(event)) > size:
        chars -= 1
    assert record_size(event, encode(event)) == size
    return event


async def test_an_oversized_event_is_refused_before_anything_is_sent_and_is_not_infrastructure():
    producer = Sending(limit=100_000)
    small, huge = cancel(10), cancel(200_000)
    with pytest.raises(MessageTooLarge) as refused:
        await publish(producer, [small, huge])
    assert producer.sent == []  # checked all before the first send: none of the events went
    error = refused.value
    assert not isinstance(error, KafkaError) and not isinstance(error, INFRASTRUCTURE_ERRORS)
    assert (error.topic, error.event_type, error.order_key, error.limit) == (
        "orders.commands",
        "CancelOrder",
        "woocommerce:shop:1",
        100_000,
    )
    assert error.size > 200_000 and f"{error.size:,}" in error.reason and "100,000" in error.reason


async def test_a_consumers_batch_with_one_oversized_event_sends_nothing():
    with pytest.raises(MessageTooLarge):
        await publish_batched(Sending(limit=100_000), [cancel(10), cancel(200_000)])


def test_the_limit_is_the_record_as_the_producer_counts_it_to_the_byte():
    assert checked(sized(100_000), 100_000)
    with pytest.raises(MessageTooLarge):
        checked(sized(100_001), 100_000)


async def test_the_producer_refuses_what_the_check_refuses():
    settings = Settings(kafka_bootstrap="127.0.0.1:9", kafka_max_message_bytes=300_000)
    producer = make_producer(settings)
    assert producer.max_message_bytes == 300_000
    # aiokafka's own check of `send` (its `max_request_size`), on the same measure: the bytes it would send.
    event = sized(300_001)
    with pytest.raises(KafkaError, match="300001 bytes"):
        producer._serialize(event.order_key.encode(), encode(event), [("event_type", event.event_type.encode())])


def test_the_default_limit_fits_a_stock_broker():
    assert DEFAULT_MAX_MESSAGE_BYTES == Settings().kafka_max_message_bytes == 1_000_000
    assert DEFAULT_MAX_MESSAGE_BYTES < 1_048_588  # Kafka's default message.max.bytes
