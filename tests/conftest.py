"""Session fixtures: the embedded broker and Redis on free loopback ports, and PostgreSQL, as `personalize dev` starts them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from devstack.embedded import EmbeddedPostgres, EmbeddedServer, start_broker, start_postgres, start_redis
from plumbing.kafka import ensure_topics
from plumbing.settings import Settings
from schemas import EVENTS_BY_TOPIC
from tests.support import Recorder

# The fuzz targets' case counts, printed at the end of the run.
pytest_plugins = ["tests.fuzzing.report"]

# A test that needs a server (or the browser) is marked `integration` by what it uses, so `make test-fast` (-m "not
# integration") runs the rest with none started. Tests that start servers of their own mark themselves.
SERVERS = frozenset({"broker", "redis_server", "postgres", "servers", "api_servers", "browser"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVERS.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.fuzz)  # hundreds of cases each: the full run has them, the fast lane not


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def broker(state_dir: Path) -> Iterator[EmbeddedServer]:
    server = start_broker(state_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(state_dir: Path) -> Iterator[EmbeddedServer]:
    server = start_redis(state_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    # Not under pytest's own temporary folder: every pytest run resets that to 0700, and as root the server runs
    # as a user of its own that must reach its data folder.
    home = Path(tempfile.mkdtemp(prefix="personalize-pg-"))
    server = start_postgres(home / "data", delete_on_stop=True)
    yield server
    server.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def bootstrap(broker: EmbeddedServer) -> str:
    return broker.address


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedServer) -> str:
    return f"redis://{redis_server.address}/0"


@pytest.fixture(scope="session")
async def topics(bootstrap: str) -> list[str]:
    await ensure_topics(Settings(kafka_bootstrap=bootstrap, topic_partitions=4), EVENTS_BY_TOPIC)
    return list(EVENTS_BY_TOPIC)


@pytest.fixture(scope="session")
async def producer(bootstrap: str, topics: list[str]) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await client.start()
    yield client
    await client.stop()


@pytest.fixture(scope="session")
async def recorder(bootstrap: str, topics: list[str]) -> AsyncIterator[Recorder]:
    rec = Recorder(bootstrap, topics)
    await rec.start()
    yield rec
    await rec.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()
