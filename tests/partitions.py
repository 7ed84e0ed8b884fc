"""For tests that need two orders on one partition, and to read what a consumer group committed."""

from __future__ import annotations

from typing import cast

from aiokafka import AIOKafkaConsumer, TopicPartition

from plumbing.partitioner import partition_of
from schemas import order_key
from tests.support import unique_id


def number_on_partition(store: tuple[str, str], partition: int, partitions: int) -> str:
    """An order number of `store` whose order key goes to `partition` of a topic of `partitions`."""
    while partition_of(order_key(*store, number := unique_id()).encode(), list(range(partitions))) != partition:
        pass
    return number


async def committed(bootstrap: str, group: str, partition: TopicPartition) -> int | None:
    """The group's committed offset of `partition` (the next offset it reads), asked as a member would ask.

    (The admin client's OffsetFetch is one the embedded broker answers in a form aiokafka cannot read.)"""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return cast(int | None, await consumer.committed(partition))
    finally:
        await consumer.stop()
