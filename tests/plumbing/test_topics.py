"""The topic rules as pure functions: replication and min ISR from the cluster's size, retention from what each
topic must hold, and which configs make an existing topic unsafe."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plumbing.topics import (
    Rules,
    Topic,
    impossible,
    min_insync_of,
    notices,
    problems,
    replication_of,
    retention_of,
    small_cluster,
    span,
    to_create,
    unsafe_replication,
)
from schemas.topics import DEAD_LETTERS, EVENTS_BY_TOPIC, ORDERS_COMMANDS, ORDERS_STATUS, PERSONALIZATION_LINK_ISSUED

WEEK, QUARTER_HOUR = timedelta(days=7), timedelta(minutes=15)
DAY_MS = 24 * 3600 * 1000


def rules(brokers: int, replication: int | None = None, link_ttl: timedelta = WEEK) -> Rules:
    return Rules(brokers, 8, replication, link_ttl, QUARTER_HOUR)


def safe(name: str, **configs: str) -> Topic:
    base = {"min.insync.replicas": "2", "retention.ms": str(14 * DAY_MS), "cleanup.policy": "delete"}
    return Topic(name, 8, 3, base | configs)


@pytest.mark.parametrize(("brokers", "replication", "min_insync"), [(1, 1, 1), (2, 2, 1), (3, 3, 2), (12, 3, 2)])
def test_replication_is_3_where_there_are_3_brokers_else_every_broker(brokers, replication, min_insync):
    assert replication_of(rules(brokers)) == replication
    assert min_insync_of(replication) == min_insync
    created = to_create(ORDERS_COMMANDS, rules(brokers))
    assert (created.replication, created.configs["min.insync.replicas"]) == (replication, str(min_insync))
    assert problems(created, rules(brokers)) == []  # what is created passes its own check


def test_every_topic_is_created_safe_on_three_brokers():
    for topic in EVENTS_BY_TOPIC:
        assert problems(to_create(topic, rules(3)), rules(3)) == [], topic


def test_the_replication_setting_wins_when_possible():
    assert replication_of(rules(5, replication=5)) == 5
    assert min_insync_of(5) == 2
    assert unsafe_replication(rules(5, replication=5)) is None
    assert "PERSONALIZE_TOPIC_REPLICATION=2 on a cluster of 5 brokers" in (unsafe_replication(rules(5, 2)) or "")
    assert unsafe_replication(rules(1, replication=1)) is None  # small: 1 is all there is
    assert impossible(rules(2, replication=3)) == (
        "PERSONALIZE_TOPIC_REPLICATION=3, but the cluster has 2 brokers: unset it (topics then get 2) "
        "or set it to 2 at most"
    )
    assert impossible(rules(3, replication=3)) is None


def test_retention_holds_the_link_ttl_plus_delay_on_the_link_topics():
    for topic in (PERSONALIZATION_LINK_ISSUED, ORDERS_STATUS):
        default = retention_of(topic, WEEK, QUARTER_HOUR)
        assert (default.created, default.least) == (timedelta(days=14), WEEK + QUARTER_HOUR)
        month = retention_of(topic, timedelta(days=30), QUARTER_HOUR)
        assert (month.created, month.least) == (timedelta(days=33, minutes=15), timedelta(days=30, minutes=15))
    assert retention_of(DEAD_LETTERS, WEEK, QUARTER_HOUR).created == timedelta(days=30)
    assert retention_of(ORDERS_COMMANDS, timedelta(days=90), QUARTER_HOUR).created == timedelta(days=14)


def test_an_under_replicated_topic_is_unsafe_on_three_brokers_only():
    thin = Topic(ORDERS_COMMANDS, 8, 1, {"retention.ms": str(14 * DAY_MS)})
    found = problems(thin, rules(3))
    assert [p.split(":")[0] for p in found] == [
        "orders.commands has replication factor 1 on a cluster of 3 brokers",
        "orders.commands has min.insync.replicas=1",  # Kafka's default, as the topic sets none
    ]
    assert problems(thin, rules(1)) == []
    assert [p.split(":")[0] for p in problems(thin, rules(2))] == [
        "orders.commands has replication factor 1 on a cluster of 2 brokers"
    ]


@pytest.mark.parametrize(
    ("configs", "found"),
    [
        ({"cleanup.policy": "compact"}, "cleanup.policy=compact"),
        ({"cleanup.policy": "delete,compact"}, "cleanup.policy=delete,compact"),
        ({"unclean.leader.election.enable": "true"}, "unclean.leader.election.enable=true"),
        ({"min.insync.replicas": "4"}, "min.insync.replicas=4 over its 3 replicas"),
        ({"retention.ms": str(2 * DAY_MS)}, "keeps events 2 d, less than it must hold"),
    ],
)
def test_configs_that_lose_events_are_unsafe(configs, found):
    problem = problems(safe(ORDERS_COMMANDS, **configs), rules(3))
    assert len(problem) == 1
    assert found in problem[0]


def test_retention_at_least_what_the_topic_must_hold_is_safe():
    assert problems(safe(ORDERS_COMMANDS, **{"retention.ms": str(3 * DAY_MS)}), rules(3)) == []
    assert problems(safe(ORDERS_COMMANDS, **{"retention.ms": "-1"}), rules(3)) == []  # kept forever
    week_and_a_bit = str(7 * DAY_MS + 15 * 60 * 1000)
    assert problems(safe(PERSONALIZATION_LINK_ISSUED, **{"retention.ms": week_and_a_bit}), rules(3)) == []
    short = problems(safe(PERSONALIZATION_LINK_ISSUED, **{"retention.ms": str(7 * DAY_MS)}), rules(3))
    assert "PERSONALIZE_LINK_TTL + PERSONALIZE_LINK_DELAY (7 d 15 m)" in short[0]
    assert problems(safe(DEAD_LETTERS, **{"retention.ms": str(6 * DAY_MS)}), rules(3))


def test_a_small_cluster_and_few_partitions_are_warnings_not_refusals():
    assert small_cluster(rules(3)) is None
    assert "has 1 broker: topics get replication 1" in (small_cluster(rules(1)) or "")
    assert notices(Topic(ORDERS_COMMANDS, 4, 3), rules(3)) != []
    assert notices(Topic(ORDERS_COMMANDS, 16, 3), rules(3)) == []


def test_spans_read_as_an_operator_writes_them():
    assert span(timedelta(days=7, minutes=15)) == "7 d 15 m"
    assert span(timedelta(days=14)) == "14 d"
    assert span(timedelta(hours=2)) == "2 h"
    assert span(timedelta(seconds=20)) == "20 s"
