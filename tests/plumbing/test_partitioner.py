"""Our partitioner picks the partition aiokafka's default one would: an order's events land together, in order."""

from __future__ import annotations

import os
import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from plumbing.partitioner import murmur2, partition_of
from schemas import PLATFORMS, order_key


def order_keys() -> list[bytes]:
    """Keys as the connectors make them: every platform, store ids and order numbers of many shapes."""
    chooser = random.Random(7)
    stores = ["s", "shop-manual", "demo-woo", "1234567", "ünïcode-störe", "a" * 40]
    numbers = [str(n) for n in range(200)] + [f"#{chooser.randrange(10**12)}" for _ in range(200)]
    return [order_key(p, s, n).encode() for p in PLATFORMS for s in stores for n in chooser.sample(numbers, 40)]


def random_keys() -> list[bytes]:
    """Every length up to 64 bytes, so every remainder of the 4-byte words, with any byte values."""
    return [os.urandom(length) for length in range(65) for _ in range(50)]


def test_murmur2_is_aiokafkas_on_every_key():
    for key in order_keys() + random_keys():
        assert murmur2(key) == aiokafka_murmur2(key), key


def test_keys_land_on_the_partition_aiokafka_would_pick():
    keys = order_keys() + random_keys()[::7]
    for count in (1, 2, 3, 4, 8, 12, 16, 31, 64):
        partitions = list(range(count))
        # The producer lists a topic's partitions from a set (`AIOKafkaProducer._partition`): the same order.
        listed = list(set(partitions))
        for key in keys:
            assert partition_of(key, partitions) == DefaultPartitioner()(key, listed, listed), (key, count)


def test_a_topic_whose_partition_ids_are_not_from_zero_still_agrees():
    partitions = [3, 5, 8, 13]
    for key in order_keys()[:500]:
        assert partition_of(key, partitions) == DefaultPartitioner()(key, partitions, partitions)
