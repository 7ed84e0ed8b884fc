"""What a topic must be, as pure decisions: what one is created with, and whether an existing one is safe.

With `acks=all`, an event is acknowledged once every *in-sync* replica has it. Replication 1 or
`min.insync.replicas=1` let the in-sync set shrink to the leader alone: after it fails over, an acknowledged
`PersonalizationRequested` is gone while core has committed (the order waits with no link, forever). So, on a
cluster of three or more brokers, topics have 3 replicas and `min.insync.replicas=2`: an acknowledged event is on
two brokers at least. A smaller cluster is "small" (dev, tests, the embedded broker): its topics get a replica on
every broker and are accepted so, with a warning, since nothing better exists there.

Retention is what a topic must hold (docs/deploy.md, "Kafka", has the table):

- the link topics (`personalization.link-issued`, `orders.status`) rebuild the editor's link table, so they keep
  at least the link TTL + the link delay; created with that plus a weekend's outage, or 14 days if longer;
- `dead-letters` is for operators' triage: created with 30 days, refused under 7;
- every other topic survives a consumer group's outage of a weekend: created with 14 days, refused under 3.

Each refusal names what to fix: the topic's config, the setting, or `PERSONALIZE_KAFKA_ALLOW_UNSAFE_TOPICS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from schemas.topics import DEAD_LETTERS, ORDERS_STATUS, PERSONALIZATION_LINK_ISSUED

SAFE_REPLICATION = 3  # a broker can fail, and another be restarted for an upgrade, and two replicas still hold
SAFE_MIN_INSYNC = 2
OUTAGE = timedelta(days=3)  # a consumer group down over a weekend loses nothing
RETENTION = timedelta(days=14)
DEAD_LETTER_RETENTION = timedelta(days=30)
DEAD_LETTER_LEAST = timedelta(days=7)
LINK_TOPICS = frozenset({PERSONALIZATION_LINK_ISSUED, ORDERS_STATUS})
OVERRIDE = "PERSONALIZE_KAFKA_ALLOW_UNSAFE_TOPICS=true"

# What Kafka takes when a topic does not set it (a real broker describes every config, defaults included; the
# embedded one describes only those set at creation).
KAFKA_DEFAULTS: Mapping[str, str] = {
    "min.insync.replicas": "1",
    "retention.ms": str(7 * 24 * 3600 * 1000),
    "cleanup.policy": "delete",
    "unclean.leader.election.enable": "false",
}


@dataclass(frozen=True)
class Retention:
    created: timedelta  # what a new topic gets
    least: timedelta  # what an existing one must keep at least
    why: str  # what that least is for, naming the settings it comes from


@dataclass(frozen=True)
class Topic:
    """A topic as created, or as described by the cluster (`configs` may lack what it leaves at Kafka's default)."""

    name: str
    partitions: int
    replication: int
    configs: Mapping[str, str] = field(default_factory=dict)

    def config(self, name: str) -> str:
        return self.configs.get(name, KAFKA_DEFAULTS[name])


@dataclass(frozen=True)
class Rules:
    """The cluster's size and the settings the decisions are made from."""

    brokers: int
    partitions: int
    replication: int | None  # PERSONALIZE_TOPIC_REPLICATION; None: decided from `brokers`
    link_ttl: timedelta
    link_delay: timedelta

    @property
    def small(self) -> bool:
        return self.brokers < SAFE_REPLICATION

    @property
    def least_replication(self) -> int:
        return min(SAFE_REPLICATION, self.brokers)

    @property
    def least_min_insync(self) -> int:
        return SAFE_MIN_INSYNC if self.least_replication >= SAFE_REPLICATION else 1


def replication_of(rules: Rules) -> int:
    """What topics are created with: the setting, or 3, or every broker of a small cluster."""
    return rules.replication if rules.replication is not None else rules.least_replication


def min_insync_of(replication: int) -> int:
    """2 of 3 (or more) replicas; 1 below that, where 2 would refuse every write once a broker is down."""
    return SAFE_MIN_INSYNC if replication >= SAFE_REPLICATION else 1


def retention_of(topic: str, link_ttl: timedelta, link_delay: timedelta) -> Retention:
    if topic in LINK_TOPICS:
        least = link_ttl + link_delay
        why = f"PERSONALIZE_LINK_TTL + PERSONALIZE_LINK_DELAY ({span(least)}): the editor's links are rebuilt from it"
        return Retention(max(RETENTION, least + OUTAGE), least, why)
    if topic == DEAD_LETTERS:
        return Retention(DEAD_LETTER_RETENTION, DEAD_LETTER_LEAST, "a week for operators to triage dead letters")
    return Retention(RETENTION, OUTAGE, "a consumer group's outage over a weekend")


def to_create(topic: str, rules: Rules) -> Topic:
    replication = replication_of(rules)
    retention = retention_of(topic, rules.link_ttl, rules.link_delay)
    configs = {
        "min.insync.replicas": str(min_insync_of(replication)),
        "retention.ms": str(milliseconds(retention.created)),
        "cleanup.policy": "delete",  # keys are order keys: compaction would keep an order's last event only
    }  # unclean.leader.election.enable stays Kafka's false, unset: a managed service may refuse it (it is checked)
    return Topic(topic, rules.partitions, replication, configs)


def impossible(rules: Rules) -> str | None:
    """A setting no override makes work: more replicas than brokers (the cluster would refuse every topic)."""
    if rules.replication is not None and rules.replication > rules.brokers:
        return (
            f"PERSONALIZE_TOPIC_REPLICATION={rules.replication}, but the cluster has {plural(rules.brokers, 'broker')}:"
            f" unset it (topics then get {rules.least_replication}) or set it to {rules.brokers} at most"
        )
    return None


def unsafe_replication(rules: Rules) -> str | None:
    """A replication setting that would create unsafe topics (every other config of a new topic is safe)."""
    if replication_of(rules) < rules.least_replication:
        return (
            f"PERSONALIZE_TOPIC_REPLICATION={rules.replication} on a cluster of {plural(rules.brokers, 'broker')}: "
            f"an acknowledged event would be lost with its broker; unset it (topics then get "
            f"{rules.least_replication} replicas)"
        )
    return None


def problems(topic: Topic, rules: Rules) -> list[str]:
    """Why the existing `topic` is unsafe, each naming the config to fix; none when it is safe."""
    found: list[str] = []
    if topic.replication < rules.least_replication:
        found.append(
            f"{topic.name} has replication factor {topic.replication} on a cluster of "
            f"{plural(rules.brokers, 'broker')}: an acknowledged event is lost with its broker; reassign its "
            f"partitions to {rules.least_replication} replicas (kafka-reassign-partitions)"
        )
    min_insync = int(topic.config("min.insync.replicas"))
    if min_insync < rules.least_min_insync:
        found.append(
            f"{topic.name} has min.insync.replicas={min_insync}: an event acknowledged by one broker alone is lost "
            f"if it fails; set it to {rules.least_min_insync} (kafka-configs --alter --add-config "
            f"min.insync.replicas={rules.least_min_insync})"
        )
    if min_insync > topic.replication:
        found.append(
            f"{topic.name} has min.insync.replicas={min_insync} over its {topic.replication} replicas: every write is "
            f"refused; set it to {min_insync_of(topic.replication)}"
        )
    if "compact" in topic.config("cleanup.policy").split(","):
        found.append(
            f"{topic.name} has cleanup.policy={topic.config('cleanup.policy')}: compaction keeps an order's last "
            "event only; set cleanup.policy=delete"
        )
    if topic.config("unclean.leader.election.enable").lower() == "true":
        found.append(
            f"{topic.name} has unclean.leader.election.enable=true: an out-of-sync leader drops acknowledged events; "
            "set it to false"
        )
    found.extend(_retention_problems(topic, rules))
    return found


def _retention_problems(topic: Topic, rules: Rules) -> list[str]:
    kept_ms = int(topic.config("retention.ms"))
    retention = retention_of(topic.name, rules.link_ttl, rules.link_delay)
    if kept_ms < 0 or kept_ms >= milliseconds(retention.least):  # -1: kept forever
        return []
    return [
        f"{topic.name} keeps events {span(timedelta(milliseconds=kept_ms))}, less than it must hold: "
        f"{retention.why}; set retention.ms to {milliseconds(retention.created)} or more (kafka-configs --alter "
        f"--add-config retention.ms=…)"
    ]


def notices(topic: Topic, rules: Rules) -> list[str]:
    """What is worth a warning but safe: fewer partitions than the setting (copies beyond them would idle)."""
    if topic.partitions < rules.partitions:
        return [
            f"{topic.name} has {plural(topic.partitions, 'partition')}, fewer than PERSONALIZE_TOPIC_PARTITIONS="
            f"{rules.partitions}: no more than {topic.partitions} copies of a service consume it"
        ]
    return []


def small_cluster(rules: Rules) -> str | None:
    """The warning of a cluster under three brokers, whose topics cannot be safe (accepted: nothing better exists)."""
    if not rules.small:
        return None
    return (
        f"the Kafka cluster has {plural(rules.brokers, 'broker')}: topics get replication {rules.least_replication}"
        f" and an acknowledged event is lost with a broker; fine for dev and tests, not for production"
    )


def milliseconds(duration: timedelta) -> int:
    return int(duration.total_seconds() * 1000)


def span(duration: timedelta) -> str:
    """`7 d 15 m`, `14 d`, `2 h`: a retention or a TTL as an operator reads it."""
    minutes = int(duration.total_seconds()) // 60
    whole_days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((whole_days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(parts) or f"{int(duration.total_seconds())} s"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
