"""An in-memory Kafka cluster behind the admin calls start-up makes (`plumbing.cluster.AdminClient`).

Its answers are aiokafka's own shapes (its response classes, its metadata dicts), so the code reading them is the
code that reads a real cluster's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource
from aiokafka.protocol.admin import CreateTopicsResponse_v3, DescribeConfigsResponse_v0

TOPIC_ALREADY_EXISTS = 36
CLUSTER_AUTHORIZATION_FAILED = 31


@dataclass
class FakeTopic:
    partitions: int
    replication: int
    configs: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeAdmin:
    brokers: int
    topics: dict[str, FakeTopic] = field(default_factory=dict)
    producer_id_error: int = 0  # what InitProducerId answers: 0 grants one
    defaults: dict[str, str] = field(default_factory=dict)  # broker defaults, described like a real broker's
    created: list[NewTopic] = field(default_factory=list)
    producer_ids_asked: int = 0
    started = closed = False

    def existing(self, name: str, partitions: int, replication: int, **configs: str) -> FakeAdmin:
        self.topics[name] = FakeTopic(partitions, replication, {k.replace("_", "."): v for k, v in configs.items()})
        return self

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    async def describe_cluster(self) -> dict[str, Any]:
        brokers = [{"node_id": n, "host": f"kafka-{n}", "port": 9092, "rack": None} for n in range(self.brokers)]
        return {"throttle_time_ms": 0, "brokers": brokers, "cluster_id": "fake", "controller_id": 0}

    async def describe_topics(self) -> list[dict[str, Any]]:
        return [
            {
                "error_code": 0,
                "topic": name,
                "is_internal": False,
                "partitions": [
                    {"error_code": 0, "partition": p, "leader": 0, "replicas": list(range(t.replication))}
                    for p in range(t.partitions)
                ],
            }
            for name, t in self.topics.items()
        ]

    async def create_topics(self, new_topics: list[NewTopic]) -> CreateTopicsResponse_v3:
        errors = []
        for new in new_topics:
            if new.name in self.topics:
                errors.append((new.name, TOPIC_ALREADY_EXISTS, "Topic already exists."))
                continue
            self.created.append(new)
            self.topics[new.name] = FakeTopic(new.num_partitions, new.replication_factor, dict(new.topic_configs))
            errors.append((new.name, 0, None))
        return CreateTopicsResponse_v3(throttle_time_ms=0, topic_errors=errors)

    async def describe_configs(self, config_resources: list[ConfigResource]) -> list[DescribeConfigsResponse_v0]:
        resources = []
        for resource in config_resources:
            configs = self.defaults | self.topics[resource.name].configs
            entries = [
                (name, value, False, name not in self.topics[resource.name].configs, False)
                for name, value in configs.items()
            ]
            resources.append((0, None, resource.resource_type, resource.name, entries))
        return [DescribeConfigsResponse_v0(throttle_time_ms=0, resources=resources)]

    async def init_producer_id(self) -> int:
        self.producer_ids_asked += 1
        return self.producer_id_error
