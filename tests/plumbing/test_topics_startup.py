"""Start-up against a described cluster (a fake admin in aiokafka's shapes, the real decisions): missing topics
created safe, unsafe existing ones refused with the setting to fix, the override, and the idempotence probe."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from plumbing.cluster import Cluster, UnsafeTopics
from plumbing.kafka import ensure_topics, make_producer
from plumbing.settings import Settings, SettingsError
from plumbing.topics import milliseconds
from schemas.topics import DEAD_LETTERS, ORDERS_COMMANDS, PERSONALIZATION_LINK_ISSUED, PERSONALIZATION_REQUESTED
from tests.plumbing.fake_cluster import CLUSTER_AUTHORIZATION_FAILED, FakeAdmin

FOURTEEN_DAYS = str(milliseconds(timedelta(days=14)))
SAFE = {"min_insync_replicas": "2", "retention_ms": FOURTEEN_DAYS, "cleanup_policy": "delete"}
KAFKA_DEFAULTS = {"min.insync.replicas": "1", "retention.ms": "604800000", "cleanup.policy": "delete"}


async def is_idempotent(settings: Settings, cluster: Cluster) -> bool:
    """Whether the producer start-up makes for `cluster` is idempotent (aiokafka's own state of it)."""
    producer = make_producer(settings, cluster)
    await producer.stop()  # never started: nothing to flush, its client is closed
    return producer._txn_manager is not None


def settings(**overrides: object) -> Settings:
    return Settings(kafka_bootstrap="kafka-0:9092").model_copy(update=overrides)


async def test_start_up_refuses_a_replication_1_topic_on_a_3_broker_cluster_and_names_the_setting():
    cluster = FakeAdmin(brokers=3).existing(PERSONALIZATION_REQUESTED, 8, 1, **SAFE)
    with pytest.raises(UnsafeTopics) as refused:
        await ensure_topics(settings(), [PERSONALIZATION_REQUESTED], admin=cluster)
    message = str(refused.value)
    assert "personalization.requested has replication factor 1 on a cluster of 3 brokers" in message
    assert "kafka-reassign-partitions" in message
    assert "PERSONALIZE_KAFKA_ALLOW_UNSAFE_TOPICS=true" in message
    assert isinstance(refused.value, SettingsError)  # the command line prints it and exits 2, no traceback
    assert cluster.closed


async def test_a_topic_at_kafkas_default_min_insync_replicas_is_refused_on_3_brokers():
    cluster = FakeAdmin(brokers=3, defaults=KAFKA_DEFAULTS).existing(ORDERS_COMMANDS, 8, 3, retention_ms=FOURTEEN_DAYS)
    with pytest.raises(UnsafeTopics, match=r"orders.commands has min.insync.replicas=1.*min.insync.replicas=2"):
        await ensure_topics(settings(), [ORDERS_COMMANDS], admin=cluster)


async def test_a_link_topic_keeping_less_than_the_link_ttl_is_refused_naming_the_ttl():
    week = str(milliseconds(timedelta(days=7)))
    cluster = FakeAdmin(brokers=3).existing(PERSONALIZATION_LINK_ISSUED, 8, 3, **(SAFE | {"retention_ms": week}))
    with pytest.raises(UnsafeTopics) as refused:
        await ensure_topics(settings(), [PERSONALIZATION_LINK_ISSUED], admin=cluster)
    assert "keeps events 7 d, less than it must hold: PERSONALIZE_LINK_TTL + PERSONALIZE_LINK_DELAY (7 d 15 m)" in str(
        refused.value
    )


async def test_the_override_starts_on_unsafe_topics_and_logs_each(caplog):
    caplog.set_level(logging.WARNING, logger="plumbing.cluster")
    cluster = FakeAdmin(brokers=3).existing(PERSONALIZATION_REQUESTED, 8, 1, **SAFE)
    found = await ensure_topics(settings(kafka_allow_unsafe_topics=True), [PERSONALIZATION_REQUESTED], admin=cluster)
    assert found.brokers == 3
    assert any("personalization.requested has replication factor 1" in r.getMessage() for r in caplog.records)


async def test_missing_topics_are_created_safe_on_3_brokers_and_safe_existing_ones_pass():
    cluster = FakeAdmin(brokers=3).existing(ORDERS_COMMANDS, 8, 3, **SAFE)
    await ensure_topics(settings(), [ORDERS_COMMANDS, DEAD_LETTERS, PERSONALIZATION_LINK_ISSUED], admin=cluster)
    created = {t.name: t for t in cluster.created}
    assert sorted(created) == [DEAD_LETTERS, PERSONALIZATION_LINK_ISSUED]  # the existing one is left as it is
    for topic in created.values():
        assert (topic.num_partitions, topic.replication_factor) == (8, 3)
        assert topic.topic_configs["min.insync.replicas"] == "2"
        assert topic.topic_configs["cleanup.policy"] == "delete"
    assert created[DEAD_LETTERS].topic_configs["retention.ms"] == str(milliseconds(timedelta(days=30)))
    assert created[PERSONALIZATION_LINK_ISSUED].topic_configs["retention.ms"] == FOURTEEN_DAYS
    await ensure_topics(settings(), [ORDERS_COMMANDS, DEAD_LETTERS, PERSONALIZATION_LINK_ISSUED], admin=cluster)


async def test_a_long_link_ttl_gives_the_link_topics_a_longer_retention():
    cluster = FakeAdmin(brokers=3)
    await ensure_topics(settings(link_ttl=timedelta(days=30)), [PERSONALIZATION_LINK_ISSUED], admin=cluster)
    kept = timedelta(milliseconds=int(cluster.created[0].topic_configs["retention.ms"]))
    assert kept == timedelta(days=30, minutes=15) + timedelta(days=3)


async def test_a_replication_setting_under_3_on_3_brokers_is_refused_before_anything_is_created():
    cluster = FakeAdmin(brokers=3)
    with pytest.raises(UnsafeTopics, match="PERSONALIZE_TOPIC_REPLICATION=1 on a cluster of 3 brokers"):
        await ensure_topics(settings(topic_replication=1), [ORDERS_COMMANDS], admin=cluster)
    assert cluster.created == []


async def test_more_replicas_than_brokers_is_refused_even_with_the_override():
    cluster = FakeAdmin(brokers=1)
    with pytest.raises(SettingsError, match="PERSONALIZE_TOPIC_REPLICATION=3, but the cluster has 1 broker"):
        await ensure_topics(
            settings(topic_replication=3, kafka_allow_unsafe_topics=True), [DEAD_LETTERS], admin=cluster
        )
    assert cluster.created == []


async def test_a_single_broker_is_small_replication_1_accepted_without_the_override(caplog):
    caplog.set_level(logging.WARNING, logger="plumbing.cluster")
    cluster = FakeAdmin(brokers=1).existing(ORDERS_COMMANDS, 4, 1, retention_ms=FOURTEEN_DAYS)
    await ensure_topics(settings(), [ORDERS_COMMANDS, DEAD_LETTERS], admin=cluster)
    assert [(t.name, t.replication_factor, t.topic_configs["min.insync.replicas"]) for t in cluster.created] == [
        (DEAD_LETTERS, 1, "1")
    ]
    warnings = [r.getMessage() for r in caplog.records]
    assert any("the Kafka cluster has 1 broker" in w for w in warnings)
    assert any("orders.commands has 4 partitions, fewer than PERSONALIZE_TOPIC_PARTITIONS=8" in w for w in warnings)


async def test_a_compacted_topic_is_refused_even_on_a_small_cluster():
    cluster = FakeAdmin(brokers=1).existing(ORDERS_COMMANDS, 8, 1, retention_ms=FOURTEEN_DAYS, cleanup_policy="compact")
    with pytest.raises(UnsafeTopics, match=r"cleanup\.policy=compact"):
        await ensure_topics(settings(), [ORDERS_COMMANDS], admin=cluster)


async def test_a_topic_another_copy_created_first_is_checked_like_an_existing_one():
    class Racing(FakeAdmin):
        async def describe_topics(self):  # the first look sees nothing; the other copy creates it meanwhile
            described = await super().describe_topics()
            if not self.created and ORDERS_COMMANDS not in [t["topic"] for t in described]:
                self.existing(ORDERS_COMMANDS, 8, 1, **SAFE)
                return []
            return described

    with pytest.raises(UnsafeTopics, match=r"orders\.commands has replication factor 1"):
        await ensure_topics(settings(), [ORDERS_COMMANDS], admin=Racing(brokers=3))


async def test_the_producer_is_idempotent_where_the_brokers_grant_producer_ids():
    granted = await ensure_topics(settings(), [DEAD_LETTERS], admin=FakeAdmin(brokers=3))
    assert granted.grants_producer_ids is True
    assert await is_idempotent(settings(), granted)


async def test_the_producer_is_not_idempotent_where_refused_with_a_log_line(caplog):
    caplog.set_level(logging.WARNING, logger="plumbing.cluster")
    cluster = FakeAdmin(brokers=3, producer_id_error=CLUSTER_AUTHORIZATION_FAILED)
    refused = await ensure_topics(settings(), [DEAD_LETTERS], admin=cluster)
    assert refused.grants_producer_ids is False
    assert not await is_idempotent(settings(), refused)
    assert any(
        "refuse an idempotent producer (ClusterAuthorizationFailedError)" in r.getMessage() for r in caplog.records
    )


async def test_the_idempotence_setting_forces_it_either_way_without_asking():
    cluster = FakeAdmin(brokers=3, producer_id_error=CLUSTER_AUTHORIZATION_FAILED)
    forced = await ensure_topics(settings(kafka_idempotence=True), [DEAD_LETTERS], admin=cluster)
    assert cluster.producer_ids_asked == 0
    assert await is_idempotent(settings(kafka_idempotence=True), forced)
    off = await ensure_topics(settings(kafka_idempotence=False), [DEAD_LETTERS], admin=FakeAdmin(brokers=3))
    assert not await is_idempotent(settings(kafka_idempotence=False), off)
