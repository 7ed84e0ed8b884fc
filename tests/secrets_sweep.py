"""Everything a run left behind, read back as bytes, to look for secrets in clear: every PostgreSQL row, every
Redis value, every record of every topic, and the logs. A secret found anywhere is named with where it was."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis


@dataclass
class Leftovers:
    """Where each blob came from → its bytes."""

    blobs: dict[str, bytes] = field(default_factory=dict)

    def add(self, where: str, value: bytes | str | None) -> None:
        if value is None:
            return
        data = value.encode() if isinstance(value, str) else value
        self.blobs[where] = self.blobs.get(where, b"") + data + b"\n"

    def found(self, secrets: Mapping[str, str]) -> list[str]:
        """`name in where` for every secret (at least 8 characters, so no short word matches by chance) found."""
        hits = []
        for name, secret in secrets.items():
            assert len(secret) >= 8, f"{name} is too short to look for"
            needle = secret.encode()
            hits += [f"{name} in {where}" for where, blob in self.blobs.items() if needle in blob]
        return hits

    @property
    def size(self) -> int:
        return sum(map(len, self.blobs.values()))


def postgres_rows(url: str, into: Leftovers) -> int:
    """Every row of every table of every schema but the system's, as text; returns how many rows."""
    rows = 0
    with psycopg.connect(url) as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:  # names from the catalogue, not input
            for row in connection.execute(f'SELECT * FROM "{schema}"."{table}"'):
                into.add(f"postgres {schema}.{table}", " ".join(_text(value) for value in row))
                rows += 1
    return rows


def _text(value: object) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


async def redis_values(redis: Redis, into: Leftovers) -> int:
    """Every key and value of the database, whatever its type; returns how many keys."""
    keys = 0
    async for key in redis.scan_iter(count=1000):
        keys += 1
        kind = (await redis.type(key)).decode()
        where = f"redis {key.decode(errors='replace')}"
        into.add(where, key)
        if kind == "string":
            into.add(where, await redis.get(key))
        elif kind == "hash":
            for name, value in (await redis.hgetall(key)).items():
                into.add(where, name + b"=" + value)
        elif kind == "list":
            for value in await redis.lrange(key, 0, -1):
                into.add(where, value)
        elif kind == "set":
            for value in await redis.smembers(key):
                into.add(where, value)
        elif kind == "zset":
            for value in await redis.zrange(key, 0, -1):
                into.add(where, value)
        elif kind == "stream":
            for _, entry in await redis.xrange(key):
                for name, value in entry.items():
                    into.add(where, name + b"=" + value)
    return keys


async def topic_records(bootstrap: str, topics: Iterable[str], into: Leftovers, timeout_s: float = 30) -> int:
    """Every record (key, value, headers) of every partition of `topics`, read to the end; returns how many."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    records = 0
    try:
        await consumer.topics()  # metadata of every topic, so each one's partitions are known
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return 0
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        async with asyncio.timeout(timeout_s):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                batches = await consumer.getmany(timeout_ms=500)
                for tp, batch in batches.items():
                    for record in batch:
                        records += 1
                        where = f"topic {tp.topic}"
                        into.add(where, record.key)
                        into.add(where, record.value)
                        for name, value in record.headers or ():
                            into.add(where, name.encode() + b"=" + value)
    finally:
        await consumer.stop()
    return records
