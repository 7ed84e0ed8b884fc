"""The notifier's own broker, Redis and SMTP server, and `personalize notifier` as a real process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from personalize.embedded import start_broker, start_redis
from personalize.kafka import ensure_topics
from personalize.mailcatcher import MailCatcher
from personalize.settings import Settings
from schemas import EVENTS_BY_TOPIC
from tests.builders import CONFIG_PATH
from tests.support import Recorder, ServiceProcess

LINK_TTL = "4s"


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict]:
    state = tmp_path_factory.mktemp("notifier")
    broker, redis = start_broker(state), start_redis(state)
    mail = MailCatcher(state / "mail").start()
    yield {"broker": broker, "redis": redis, "mail": mail, "state": state}
    mail.stop()
    broker.stop()
    redis.stop()


@pytest.fixture(scope="module")
async def bus(servers) -> AsyncIterator[dict]:
    bootstrap = servers["broker"].address
    await ensure_topics(Settings(kafka_bootstrap=bootstrap, topic_partitions=4), EVENTS_BY_TOPIC)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    recorder = Recorder(bootstrap, list(EVENTS_BY_TOPIC))
    await recorder.start()
    yield {"producer": producer, "recorder": recorder}
    await recorder.stop()
    await producer.stop()


def notifier_env(servers: dict, smtp_url: str | None = None, **extra: str) -> dict[str, str]:
    return {
        "PERSONALIZE_KAFKA_BOOTSTRAP": servers["broker"].address,
        "PERSONALIZE_REDIS_URL": f"redis://{servers['redis'].address}/0",
        "PERSONALIZE_CONFIG": str(CONFIG_PATH),
        "PERSONALIZE_SMTP_URL": smtp_url or servers["mail"].url,
        "PERSONALIZE_LINK_TTL": LINK_TTL,
        "PERSONALIZE_PUBLIC_URL": "https://personalize.example.com",
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        **extra,
    }


@pytest.fixture(scope="module")
async def notifier(servers, bus) -> AsyncIterator[ServiceProcess]:
    service = ServiceProcess(["notifier"], notifier_env(servers), servers["state"] / "notifier.log")
    service.start()
    yield service
    assert service.stop() == 0, service.log_tail()


def log_path(servers: dict, name: str) -> Path:
    return servers["state"] / f"{name}.log"
