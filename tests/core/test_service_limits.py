"""`personalize core` with the brokers' limit of a stock Kafka (1,000,000 bytes, the default): one order whose
request is too large must not stall the partition it shares with other stores (issue 15, the High finding).

The merchant's own fields are limited where they enter now (`plumbing/limits.py`), so the request here is made
too large the way no limit on a merchant's input prevents: a paid order with a thousand personalizable lines.

The embedded broker takes records of any size (12 MB, measured), where a stock broker refuses those over its
`message.max.bytes` with a `KafkaError` core took for an outage: core retried that batch forever and committed
nothing behind it. Core's own check is what refuses them now, before the broker or aiokafka could.
"""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from core.directory import Directory
from core.store import RedisOrderStore
from plumbing.config import ProductMatch, TemplateConfig
from schemas import (
    ORDERS_RECEIVED,
    DeadLetter,
    FulfillmentRequested,
    OrderStatusChanged,
    PersonalizationRequested,
    TemplateField,
    encode,
)
from tests.builders import AUTO, MANUAL, load_test_config, mug, order, plain
from tests.core.test_service import SETTLE, has, until
from tests.partitions import committed, number_on_partition
from tests.support import count, unique_id

PARTITION = 0


async def test_an_order_too_large_to_request_dead_letters_and_another_stores_order_on_its_partition_commits(
    core, producer, recorder, redis, bootstrap
):
    directory = Directory(redis, load_test_config())
    template = f"banner-{unique_id()}"
    product = ProductMatch(product_id=f"huge-{unique_id()}", template=template)
    # A template within every limit, about 2 KB as each line of a request carries it.
    fields = [TemplateField(name=f"f{i}", type="text", label="L" * 100, max_length=100) for i in range(12)]
    await directory.put_template(template, TemplateConfig(title="T" * 200, fields=fields))
    await directory.put_product(*MANUAL, product)
    try:
        partitions = len(await producer.partitions_for(ORDERS_RECEIVED))
        huge = order(
            MANUAL,
            [mug(f"L{i}", product_id=product.product_id, sku=None) for i in range(1000)],
            number=number_on_partition(MANUAL, PARTITION, partitions),
        )
        other = order(AUTO, [plain()], number=number_on_partition(AUTO, PARTITION, partitions))
        sent = [
            await producer.send_and_wait(ORDERS_RECEIVED, encode(e), key=e.order_key.encode()) for e in (huge, other)
        ]
        assert {s.partition for s in sent} == {PARTITION}

        await recorder.wait_for(other.order_key, has(FulfillmentRequested))
        await recorder.wait_for(huge.order_key, has(DeadLetter))
        (dead,) = recorder.events(huge.order_key, DeadLetter)
        assert dead.source_topic == ORDERS_RECEIVED and dead.offset == sent[0].offset and dead.consumer == "core"
        assert "PersonalizationRequested" in dead.error and "over the limit of 983,616 bytes" in dead.error
        tp = TopicPartition(ORDERS_RECEIVED, PARTITION)
        await until(lambda: committed(bootstrap, "core", tp), lambda offset: (offset or 0) > sent[1].offset)

        await asyncio.sleep(SETTLE)
        events = recorder.events(huge.order_key)
        assert count(events, DeadLetter) == 1  # once: the batch was not retried
        assert count(events, PersonalizationRequested) == count(events, OrderStatusChanged) == 0
        assert (await RedisOrderStore(redis).load_many([huge.order_key]))[huge.order_key].order is None
    finally:
        await directory.delete_product(*MANUAL, product)
        await directory.delete_template(template)
