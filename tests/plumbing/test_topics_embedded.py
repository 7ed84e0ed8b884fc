"""The topic rules on a fresh embedded broker (Tansu, one broker): what start-up creates carries the chosen configs
as the broker describes them, an unsafe topic made there is refused, and the producer it makes (gzip, and no
idempotence, which Tansu does not grant) round-trips an event."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from devstack.embedded import EmbeddedServer, start_broker
from plumbing.cluster import UnsafeTopics
from plumbing.kafka import ensure_topics, make_producer, publish
from plumbing.settings import Settings
from plumbing.topics import milliseconds
from schemas import EVENTS_BY_TOPIC, CancelOrder, decode
from schemas.topics import DEAD_LETTERS, ORDERS_COMMANDS, PERSONALIZATION_LINK_ISSUED

pytestmark = pytest.mark.integration  # starts a broker of its own: the session's has its topics already


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_broker(tmp_path_factory.mktemp("topics"))
    yield server
    server.stop()


@pytest.fixture
async def admin(fresh: EmbeddedServer) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=fresh.address)
    await client.start()
    yield client
    await client.close()


async def described(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    return {
        r["resource_name"]: {e["config_names"]: e["config_value"] for e in r["config_entries"]}
        for response in responses
        for r in response.to_object()["resources"]
    }


async def test_topics_created_on_a_fresh_embedded_broker_carry_the_chosen_configs(fresh, admin):
    settings = Settings(kafka_bootstrap=fresh.address, topic_partitions=2)
    cluster = await ensure_topics(settings, EVENTS_BY_TOPIC)
    assert cluster.brokers == 1
    configs = await described(admin, list(EVENTS_BY_TOPIC))
    for topic in EVENTS_BY_TOPIC:
        assert configs[topic]["min.insync.replicas"] == "1", topic  # one broker: small, 1 of 1
        assert configs[topic]["cleanup.policy"] == "delete", topic
    assert configs[DEAD_LETTERS]["retention.ms"] == str(milliseconds(timedelta(days=30)))
    assert configs[ORDERS_COMMANDS]["retention.ms"] == str(milliseconds(timedelta(days=14)))
    assert configs[PERSONALIZATION_LINK_ISSUED]["retention.ms"] == str(milliseconds(timedelta(days=14)))
    shapes = {t["topic"]: t["partitions"] for t in await admin.describe_topics()}
    assert all(len(shapes[t]) == 2 and len(shapes[t][0]["replicas"]) == 1 for t in EVENTS_BY_TOPIC)
    again = await ensure_topics(settings, EVENTS_BY_TOPIC)  # now each is described, checked, and passes
    assert again == cluster


async def test_an_unsafe_topic_on_the_embedded_broker_is_refused_and_the_override_starts(fresh, admin):
    await admin.create_topics([NewTopic("unsafe.compacted", 1, 1, topic_configs={"cleanup.policy": "compact"})])
    settings = Settings(kafka_bootstrap=fresh.address, topic_partitions=1)
    with pytest.raises(UnsafeTopics, match=r"unsafe.compacted has cleanup.policy=compact.*ALLOW_UNSAFE_TOPICS=true"):
        await ensure_topics(settings, ["unsafe.compacted"])
    await ensure_topics(settings.model_copy(update={"kafka_allow_unsafe_topics": True}), ["unsafe.compacted"])


async def test_the_embedded_broker_gets_a_gzip_producer_without_idempotence_that_round_trips(fresh):
    settings = Settings(kafka_bootstrap=fresh.address, topic_partitions=1)
    cluster = await ensure_topics(settings, [ORDERS_COMMANDS])
    assert cluster.grants_producer_ids is False  # Tansu lists InitProducerId but answers it with an error
    producer = make_producer(settings, cluster)
    assert producer._txn_manager is None  # aiokafka's idempotence state: off
    assert producer._compression_type == "gzip"
    command = CancelOrder(order_key="woocommerce:shop:gzip", reason="x" * 5_000)
    await producer.start()
    try:
        await publish(producer, [command])
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(ORDERS_COMMANDS, bootstrap_servers=fresh.address, auto_offset_reset="earliest")
    await consumer.start()
    read = []
    try:
        for _ in range(20):  # until the assignment and the first fetch are done
            read += [m for batch in (await consumer.getmany(timeout_ms=500)).values() for m in batch]
            if read:
                break
    finally:
        await consumer.stop()
    assert [decode(ORDERS_COMMANDS, m.value) for m in read] == [command]
