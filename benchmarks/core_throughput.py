"""Core throughput against the embedded broker, beside the ceiling of a bare aiokafka loop.

Both run as separate processes on the same broker and are timed the same way:
from their first committed offset to the last, read by an outside client.
20,000 orders by default (`--orders N`), half with a line to personalize.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks import profile
from benchmarks.procstat import load_average, memory_mib, sched
from devstack.demo import sample_order
from devstack.embedded import start_broker, start_redis
from plumbing.kafka import ensure_topics
from plumbing.settings import Settings
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


@dataclass
class Timed:
    """A consumer's run from its first commit to its last: the rate, its RSS, and CPU per message of each process."""

    rate: float
    rss_mib: float
    cpu_ms: dict[str, float]  # process -> CPU ms per message consumed (on a CPU, not waiting for one)
    queued_ms: float  # the consumer's own time runnable but waiting for a core, per message


async def time_consumer(
    command: list[str],
    env: dict[str, str],
    bootstrap: str,
    group: str,
    topic: str,
    partitions: int,
    orders: int,
    others: dict[str, int],
    profile_to: Path | None = None,
    copies: int = 1,
) -> Timed:
    """Start the process (`copies` of it, in one consumer group), time the group's commits from the first to the last.

    `others`: processes (the broker, Redis) whose CPU over the same span is reported too. `profile_to`: also
    sample the (first) process with py-spy from its first commit to its last, into that file.
    """
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(copies)
    ]
    try:
        async with CommitWatcher(bootstrap, group, topic, partitions) as watcher:
            return await _watch(processes, watcher, orders, others, profile_to)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)


async def _watch(
    processes: list[subprocess.Popen],
    watcher: CommitWatcher,
    orders: int,
    others: dict[str, int],
    profile_to: Path | None,
) -> Timed:
    consumers = {f"consumer {n + 1}" if len(processes) > 1 else "consumer": p.pid for n, p in enumerate(processes)}
    pids = {**consumers, **others}
    start_count = start_time = recording = None
    before: dict[str, tuple[float, float]] = {}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        done = await watcher.committed()
        now = time.monotonic()
        if start_time is None and done > 0:
            start_count, start_time = done, now
            before = {name: sched(pid) for name, pid in pids.items()}
            if profile_to is not None:
                recording = profile.start(processes[0].pid, profile_to, 600)
        if done >= orders:
            after = {name: sched(pid) for name, pid in pids.items()}
            if recording is not None:  # py-spy writes what it has when interrupted
                recording.send_signal(signal.SIGINT)
                recording.wait(30)
            count = max(1, done - start_count)
            cpu = {name: (after[name][0] - before[name][0]) * 1000 / count for name in pids}
            queued = sum(after[name][1] - before[name][1] for name in consumers) * 1000 / count
            return Timed(count / (now - start_time), max(memory_mib(p.pid) for p in processes), cpu, queued)
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}")
        await asyncio.sleep(0.05)
    raise RuntimeError("timed out")


async def run(orders: int, partitions: int, profile_dir: Path | None = None, copies: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as state:
        broker, redis = start_broker(Path(state)), start_redis(Path(state))
        servers = {"broker": broker.process.pid, "redis": redis.process.pid}
        try:
            bootstrap = broker.address
            settings = Settings(kafka_bootstrap=bootstrap, topic_partitions=partitions)
            await ensure_topics(settings, [*EVENTS_BY_TOPIC, "bench.in", "bench.out"])
            await produce(bootstrap, "bench.in", orders)
            await produce(bootstrap, ORDERS_RECEIVED, orders)

            load_before = load_average()
            bare = await time_consumer(
                [sys.executable, "-m", "benchmarks.bare_loop", bootstrap, "bench.in", "bench.out", "bench-bare"],
                dict(os.environ),
                bootstrap,
                "bench-bare",
                "bench.in",
                partitions,
                orders,
                servers,
            )
            env = dict(
                os.environ,
                PERSONALIZE_KAFKA_BOOTSTRAP=bootstrap,
                PERSONALIZE_REDIS_URL=f"redis://{redis.address}/0",
                PERSONALIZE_CONFIG=str(ROOT / "examples" / "config.yaml"),
                PERSONALIZE_LOG_LEVEL="WARNING",
                PERSONALIZE_TOPIC_PARTITIONS=str(partitions),
            )
            core = await time_consumer(
                [sys.executable, "-m", "personalize.cli", "core"],
                env,
                bootstrap,
                "core",
                ORDERS_RECEIVED,
                partitions,
                orders,
                servers,
                profile_dir / "core.txt" if profile_dir else None,
            )
            scaled = None
            if copies > 1:  # the same orders again, as new: a fresh group over the topic, a fresh Redis database
                scaled = await time_consumer(
                    [sys.executable, "-m", "personalize.cli", "core"],
                    dict(env, PERSONALIZE_CORE_GROUP="core-copies", PERSONALIZE_REDIS_URL=f"redis://{redis.address}/1"),
                    bootstrap,
                    "core-copies",
                    ORDERS_RECEIVED,
                    partitions,
                    orders,
                    servers,
                    copies=copies,
                )
        finally:
            broker.stop()
            redis.stop()
    return {
        "orders": orders,
        "bare": bare.rate,
        "core": core.rate,
        "ratio": core.rate / bare.rate,
        "core_rss_mib": core.rss_mib,
        "bare_rss_mib": bare.rss_mib,
        "bare_timed": bare,
        "core_timed": core,
        "load": load_before,
        "copies": copies,
        "scaled": scaled,
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--profile", type=Path, help="also sample core with py-spy while it runs, into this folder")
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="also time this many copies of core in one group (scale-out), after the single one",
    )
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.orders, args.partitions, args.profile, args.copies))
    print(f"core throughput, {result['orders']:,} orders, embedded broker, {args.partitions} partitions")
    print(
        f"  {'bare aiokafka consume→produce loop (ceiling)':<48} {result['bare']:>9,.0f} msg/s   RSS {result['bare_rss_mib']:.0f} MiB"
    )
    print(
        f"  {'personalize core (Redis state, decisions)':<48} {result['core']:>9,.0f} orders/s RSS {result['core_rss_mib']:.0f} MiB"
    )
    print(f"  {'core / ceiling':<48} {result['ratio']:>9.0%}   (load average before: {result['load']})")
    for name in ("bare", "core"):
        timed = result[f"{name}_timed"]
        cpu = ", ".join(f"{process} {ms:.3f}" for process, ms in timed.cpu_ms.items())
        print(f"    {name}: CPU ms per message: {cpu}; {name} queued for a core {timed.queued_ms:.3f}")
    if result["scaled"] is not None:
        scaled = result["scaled"]
        label = f"{args.copies} copies of core, one group"
        print(
            f"  {label:<48} {scaled.rate:>9,.0f} orders/s RSS {scaled.rss_mib:.0f} MiB (largest), "
            f"{scaled.rate / result['bare']:.0%} of the bare loop, {scaled.rate / result['core']:.2f}× one copy"
        )
        cpu = ", ".join(f"{process} {ms:.3f}" for process, ms in scaled.cpu_ms.items())
        print(f"    copies: CPU ms per message: {cpu}; copies queued for a core {scaled.queued_ms:.3f}")
    if args.profile:
        print(f"  where core's CPU went (py-spy, {args.profile}/core.txt)")
        print("\n".join(f"     {row}" for row in profile.top(args.profile / "core.txt")))
    return result


if __name__ == "__main__":
    main()
