"""Core throughput against the embedded broker, beside the ceiling of a bare aiokafka loop.

Both run as separate processes on the same broker and are timed the same way:
from their first committed offset to the last, read by an outside client.
20,000 orders by default (`--orders N`), half with a line to personalize.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.procstat import memory_mib
from personalize.demo import sample_order
from personalize.embedded import start_broker, start_redis
from personalize.kafka import ensure_topics
from personalize.settings import Settings
from schemas import EVENTS_BY_TOPIC, ORDERS_RECEIVED, encode

ROOT = Path(__file__).parents[1]


async def produce(bootstrap: str, topic: str, orders: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=10, max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = []
        for n in range(orders):
            event = sample_order(1_000_000 + n, personalized=n % 2 == 0)
            pending.append(await producer.send(topic, encode(event), key=event.order_key.encode()))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


class CommitWatcher:
    """Reads a group's committed offsets from outside, with one client kept open (not one per poll)."""

    def __init__(self, bootstrap: str, group: str, topic: str, partitions: int) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        self._partitions = [TopicPartition(topic, p) for p in range(partitions)]

    async def __aenter__(self) -> CommitWatcher:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def committed(self) -> int:
        return sum([await self._consumer.committed(tp) or 0 for tp in self._partitions])


async def time_consumer(command: list[str], env: dict[str, str], bootstrap: str, group: str, topic: str,
                        partitions: int, orders: int) -> tuple[float, float]:
    """Start the process, time its commits from the first to the last; return (rate, RSS MiB)."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with CommitWatcher(bootstrap, group, topic, partitions) as watcher:
            return await _watch(process, watcher, orders)
    finally:
        process.terminate()
        process.wait(20)


async def _watch(process: subprocess.Popen, watcher: CommitWatcher, orders: int) -> tuple[float, float]:
    start_count = start_time = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        done = await watcher.committed()
        now = time.monotonic()
        if start_time is None and done > 0:
            start_count, start_time = done, now
        if done >= orders:
            return (done - start_count) / (now - start_time), memory_mib(process.pid)
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        await asyncio.sleep(0.05)
    raise RuntimeError("timed out")


async def run(orders: int, partitions: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        broker, redis = start_broker(Path(state)), start_redis(Path(state))
        try:
            bootstrap = broker.address
            settings = Settings(kafka_bootstrap=bootstrap, topic_partitions=partitions)
            await ensure_topics(settings, [*EVENTS_BY_TOPIC, "bench.in", "bench.out"])
            await produce(bootstrap, "bench.in", orders)
            await produce(bootstrap, ORDERS_RECEIVED, orders)

            bare_rate, bare_rss = await time_consumer(
                [sys.executable, "-m", "benchmarks.bare_loop", bootstrap, "bench.in", "bench.out", "bench-bare"],
                dict(os.environ), bootstrap, "bench-bare", "bench.in", partitions, orders)
            env = dict(os.environ, PERSONALIZE_KAFKA_BOOTSTRAP=bootstrap, PERSONALIZE_REDIS_URL=f"redis://{redis.address}/0",
                       PERSONALIZE_CONFIG=str(ROOT / "examples" / "config.yaml"), PERSONALIZE_LOG_LEVEL="WARNING",
                       PERSONALIZE_TOPIC_PARTITIONS=str(partitions))
            core_rate, core_rss = await time_consumer(
                [sys.executable, "-m", "personalize.cli", "core"], env, bootstrap, "core", ORDERS_RECEIVED,
                partitions, orders)
        finally:
            broker.stop()
            redis.stop()
    return {"orders": orders, "bare": bare_rate, "core": core_rate, "ratio": core_rate / bare_rate,
            "core_rss_mib": core_rss, "bare_rss_mib": bare_rss}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.orders, args.partitions))
    print(f"core throughput, {result['orders']:,} orders, embedded broker, {args.partitions} partitions")
    print(f"  {'bare aiokafka consume→produce loop (ceiling)':<48} {result['bare']:>9,.0f} msg/s   RSS {result['bare_rss_mib']:.0f} MiB")
    print(f"  {'personalize core (Redis state, decisions)':<48} {result['core']:>9,.0f} orders/s RSS {result['core_rss_mib']:.0f} MiB")
    print(f"  {'core / ceiling':<48} {result['ratio']:>9.0%}")
    return result


if __name__ == "__main__":
    main()
