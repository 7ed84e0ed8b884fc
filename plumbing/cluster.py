"""Start-up's look at the Kafka cluster: its topics made or checked by the rules of `plumbing.topics`, and
whether its brokers grant idempotent producers.

Each service, before it produces or consumes: counts the brokers, creates the topics it uses that are missing
(safe, from the rules), describes those that exist (partitions, replicas, and their configs) and refuses to start
on an unsafe one with `UnsafeTopics`, naming what to fix, unless `PERSONALIZE_KAFKA_ALLOW_UNSAFE_TOPICS` turns the
refusals into warnings. Everything goes through an `AdminClient`: aiokafka's admin (`Admin`) on a real cluster,
a fake in tests, so the decisions run the same against both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.transaction import InitProducerIdRequest

from plumbing.settings import Settings, SettingsError
from plumbing.topics import (
    OVERRIDE,
    Rules,
    Topic,
    impossible,
    notices,
    problems,
    small_cluster,
    to_create,
    unsafe_replication,
)

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36
TRANSACTION_TIMEOUT_MS = 60_000  # aiokafka's default; an idempotent producer without transactions ignores it


class UnsafeTopics(SettingsError):
    """Topics that would lose acknowledged events; the message names each one and what to fix."""

    def __init__(self, found: list[str]) -> None:
        self.found = found
        super().__init__(
            "unsafe Kafka topics, not started: " + "; ".join(found) + f" (or set {OVERRIDE} to start anyway)"
        )


class AdminClient(Protocol):
    """The calls of aiokafka's admin that start-up makes (and `init_producer_id`, of `Admin`)."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def describe_cluster(self) -> dict[str, Any]: ...
    async def describe_topics(self) -> list[dict[str, Any]]: ...
    async def create_topics(self, new_topics: list[NewTopic]) -> Any: ...
    async def describe_configs(self, config_resources: list[ConfigResource]) -> list[Any]: ...
    async def init_producer_id(self) -> int: ...


class Admin(AIOKafkaAdminClient):
    """aiokafka's admin client, which can also ask for a producer id (aiokafka's admin has no call for it)."""

    async def init_producer_id(self) -> int:
        """The error code of an idempotent producer's first request: 0 when the brokers grant producer ids."""
        request = InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=TRANSACTION_TIMEOUT_MS)
        response = await self._send_request(request)
        return int(response.error_code)


@dataclass(frozen=True)
class Cluster:
    """What start-up found: the broker count, and whether the brokers grant producer ids (None: not asked,
    PERSONALIZE_KAFKA_IDEMPOTENCE decides)."""

    brokers: int
    grants_producer_ids: bool | None = None


def idempotent(setting: bool | None, cluster: Cluster | None) -> bool:
    """The setting when set; else on where the brokers grant producer ids (unknown, without a `Cluster`: off)."""
    if setting is not None:
        return setting
    return bool(cluster and cluster.grants_producer_ids)


async def settle(admin: AdminClient, settings: Settings, topics: Iterable[str]) -> Cluster:
    """Create the missing topics, check the existing ones, and find out about idempotence (the module's docs)."""
    wanted = sorted(set(topics))
    brokers = len((await admin.describe_cluster())["brokers"])
    rules = Rules(
        brokers, settings.topic_partitions, settings.topic_replication, settings.link_ttl, settings.link_delay
    )
    if error := impossible(rules):
        raise SettingsError(error)
    if warning := small_cluster(rules):
        log.warning("%s", warning)
    shapes = await _shapes(admin)
    missing = [topic for topic in wanted if topic not in shapes]
    if missing and (found := unsafe_replication(rules)):
        _refuse_or_warn(settings, [found])  # before anything is created from the setting
    raced = await _create(admin, [to_create(topic, rules) for topic in missing])
    if raced:  # another copy created them first: they are checked like any existing topic
        shapes = await _shapes(admin)
    existing = [topic for topic in wanted if topic not in missing or topic in raced]
    _refuse_or_warn(settings, await _problems(admin, rules, existing, shapes))
    asked = None if settings.kafka_idempotence is not None else await _grants_producer_ids(admin)
    return Cluster(rules.brokers, asked)


async def _problems(
    admin: AdminClient, rules: Rules, existing: list[str], shapes: Mapping[str, tuple[int, int]]
) -> list[str]:
    """What makes the existing topics unsafe (the notices, only warnings, are logged)."""
    configs = await _configs(admin, [topic for topic in existing if topic in shapes])
    found: list[str] = []
    for name in existing:
        if name not in shapes:  # created by another copy this instant, its partitions not yet in the metadata
            log.info("topic %s is not described yet: it is checked at the next start", name)
            continue
        topic = Topic(name, *shapes[name], configs[name])
        found += problems(topic, rules)
        for notice in notices(topic, rules):
            log.warning("%s", notice)
    return found


def _refuse_or_warn(settings: Settings, found: list[str]) -> None:
    """`UnsafeTopics` for `found`; with the override, each is logged instead."""
    if found and not settings.kafka_allow_unsafe_topics:
        raise UnsafeTopics(found)
    for problem in found:
        log.warning("unsafe Kafka topic, started anyway (PERSONALIZE_KAFKA_ALLOW_UNSAFE_TOPICS): %s", problem)


async def _shapes(admin: AdminClient) -> dict[str, tuple[int, int]]:
    """Every topic's partitions and replicas (the fewest of any partition). All topics, never named ones: a
    metadata request naming a missing topic creates it on a broker that auto-creates, with its defaults."""
    shapes = {}
    for described in await admin.describe_topics():
        partitions = described["partitions"]
        if partitions:
            shapes[described["topic"]] = (len(partitions), min(len(p["replicas"]) for p in partitions))
    return shapes


async def _create(admin: AdminClient, topics: list[Topic]) -> list[str]:
    """Create `topics`; the names of those another copy created first."""
    if not topics:
        return []
    response = await admin.create_topics(
        [NewTopic(t.name, t.partitions, t.replication, topic_configs=dict(t.configs)) for t in topics]
    )
    raced = []
    for name, code, message in response.topic_errors:
        if code == TOPIC_ALREADY_EXISTS:
            raced.append(name)
        elif code != 0:
            raise RuntimeError(f"cannot create topic {name}: {message} (error {code})")
    for topic in topics:
        if topic.name not in raced:
            log.info(
                "created topic %s: %d partitions, %d replicas, %s",
                topic.name,
                topic.partitions,
                topic.replication,
                ", ".join(f"{k}={v}" for k, v in topic.configs.items()),
            )
    return raced


async def _configs(admin: AdminClient, topics: list[str]) -> dict[str, Mapping[str, str]]:
    if not topics:
        return {}
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in topics])
    configs: dict[str, Mapping[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                raise RuntimeError(
                    f"cannot describe topic {resource['resource_name']}'s configs: {resource['error_message']} "
                    f"(error {resource['error_code']})"
                )
            entries = resource["config_entries"]
            configs[resource["resource_name"]] = {e["config_names"]: e["config_value"] for e in entries}
    return configs


async def _grants_producer_ids(admin: AdminClient) -> bool:
    try:
        code = await admin.init_producer_id()
    except KafkaError as error:
        why = repr(error)
    else:
        if code == 0:
            log.info("the brokers grant producer ids: the producer is idempotent")
            return True
        why = for_code(code).__name__
    log.warning(
        "the brokers refuse an idempotent producer (%s): producing without idempotence, where a retry can write an "
        "event twice (consumers skip it by event_id); PERSONALIZE_KAFKA_IDEMPOTENCE=true forces it on",
        why,
    )
    return False
