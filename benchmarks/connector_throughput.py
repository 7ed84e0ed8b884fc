"""Connector throughput: 20,000 signed WooCommerce webhooks from 200 senders, and one poll of a 10,000-order store.

Every role is its own process on loopback (Tansu, redis-server, `personalize connector woocommerce`, the seeded
sandbox, the httpx senders); this one only reads `orders.received`. CPU per process comes from /proc, with the
time it sat runnable waiting for a core (the cores are shared), so the table shows who ran out first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

import httpx
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks.procstat import memory_mib
from connectors.client import PlatformClient
from connectors.woocommerce import ADAPTER
from connectors.woocommerce import client as woo
from connectors.woocommerce.signature import sign
from personalize.config import load_config
from personalize.embedded import free_port, start_broker, start_redis
from personalize.kafka import ensure_topics
from personalize.settings import Settings
from schemas import DEAD_LETTERS, ORDERS_RECEIVED

SAMPLE = Path(__file__).parents[1] / "sandboxes" / "samples" / "woocommerce" / "order_retrieve_v3.json"
SECRET = "bench-webhook-secret"
Shares = dict[str, tuple[float, float]]  # role → (share of a core used, share spent waiting for one)


def _sched(pid: int) -> tuple[float, float]:
    stats = [t.read_text().split() for t in Path(f"/proc/{pid}/task").glob("*/schedstat")]  # every thread
    return sum(int(s[0]) for s in stats) / 1e9, sum(int(s[1]) for s in stats) / 1e9


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def serve_sandbox(config: str, port: int, orders: int) -> None:
    """The WooCommerce sandbox holding `orders` orders built in memory (no webhooks)."""
    import uvicorn

    from sandboxes.base import OrderSpec, make_sandbox_app
    from sandboxes.woocommerce import SANDBOX

    app = make_sandbox_app(SANDBOX, load_config(config).stores[0])
    app.state.sandbox.orders.clear()  # only the seeded orders, not the documented examples
    for _ in range(orders):
        raw = SANDBOX.new_order(app.state.sandbox, OrderSpec(webhook=False))
        app.state.sandbox.orders[str(raw["id"])] = raw
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Stack:
    """Broker, Redis and a seeded sandbox as processes, the connector when asked; what each used of the CPU."""

    def __init__(self, folder: Path, store: dict, seed: int, redis_pool: int) -> None:
        folder.mkdir(parents=True)
        self.folder, self.store, self.seed, self.redis_pool = folder, store, seed, redis_pool
        self.port, self.sandbox_port, self.config = free_port(), free_port(), folder / "config.yaml"
        self.processes: dict[str, subprocess.Popen] = {}

    async def __aenter__(self) -> Stack:
        try:
            broker, redis = start_broker(self.folder), start_redis(self.folder)
            self.processes.update(broker=broker.process, redis=redis.process)
            self.bootstrap, pool = broker.address, f"?max_connections={self.redis_pool}" if self.redis_pool else ""
            self.config.write_text(yaml.safe_dump({"stores": [{
                "platform": "woocommerce", "merchant_email": "bench@example.com", "webhook_secret": SECRET,
                "base_url": f"http://127.0.0.1:{self.sandbox_port}", **self.store,
                "credentials": {"consumer_key": "ck_bench", "consumer_secret": "cs_bench"}}]}))
            self.env = dict(os.environ, PERSONALIZE_KAFKA_BOOTSTRAP=self.bootstrap, PERSONALIZE_CONFIG=str(self.config),
                            PERSONALIZE_REDIS_URL=f"redis://{redis.address}/0{pool}", PERSONALIZE_LOG_LEVEL="WARNING")
            self.processes["sandbox"] = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.connector_throughput", "--serve-sandbox", str(self.config),
                 str(self.sandbox_port), str(self.seed)], env=self.env)
            await ensure_topics(Settings(kafka_bootstrap=self.bootstrap, topic_partitions=8),
                                [ORDERS_RECEIVED, DEAD_LETTERS])
            await _wait_http(f"http://127.0.0.1:{self.sandbox_port}/_sandbox/up", self.processes["sandbox"], 404)
            return self
        except BaseException:
            await self.__aexit__()
            raise

    async def __aexit__(self, *exc: object) -> None:
        for process in self.processes.values():  # the connector first, the broker and Redis last
            process.terminate()
            process.wait(20)

    async def start_connector(self) -> str:
        command = [sys.executable, "-m", "personalize.cli", "connector", "woocommerce", "--port", str(self.port)]
        self.processes = {"connector": subprocess.Popen(command, env=self.env), **self.processes}
        await _wait_http(f"http://127.0.0.1:{self.port}/health", self.processes["connector"], 200)
        return f"http://127.0.0.1:{self.port}/webhooks/woocommerce/{self.store['store_id']}"

    def sched(self) -> dict[str, tuple[float, float]]:
        return {role: _sched(p.pid) for role, p in self.processes.items()}


def _shares(before: dict, after: dict, seconds: float) -> Shares:
    return {role: ((after[role][0] - b[0]) / seconds, (after[role][1] - b[1]) / seconds) for role, b in before.items()}


async def _wait_http(url: str, process: subprocess.Popen, status: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if (await http.get(url)).status_code == status:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up (exit {process.poll()})")


async def consume(bootstrap: str, store_id: str, n: int, timeout: float) -> tuple[dict[str, tuple[float, int]], int]:
    """orders.received until `n` distinct orders: {order id: (monotonic time read, publish ms)}, and repeats."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=20)
    await consumer.start()
    seen, twice, deadline, prefix = {}, 0, time.monotonic() + timeout, f"woocommerce:{store_id}:"
    try:
        consumer.assign([TopicPartition(ORDERS_RECEIVED, p) for p in consumer.partitions_for_topic(ORDERS_RECEIVED)])
        await consumer.seek_to_beginning()
        while len(seen) < n and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.monotonic()
                for r in records:
                    order_id = r.key.decode().removeprefix(prefix)
                    twice += order_id in seen
                    seen.setdefault(order_id, (now, r.timestamp))
    finally:
        await consumer.stop()
    return seen, twice


def drive_webhooks(url: str, first_id: int, count: int, senders: int, start_at: float) -> dict:
    """One client process: `senders` posting signed full-order webhooks, built beforehand, from `start_at`."""
    template, requests = json.loads(SAMPLE.read_text()), []
    for order_id in range(first_id, first_id + count):
        modified = (datetime(2024, 1, 1) + timedelta(seconds=order_id - first_id)).isoformat()
        body = json.dumps({**template, "id": order_id, "number": str(order_id), "date_modified_gmt": modified},
                          separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
                   "X-WC-Webhook-Signature": sign(SECRET, body)}
        requests.append((str(order_id), body, headers))
    return asyncio.run(_post_all(url, iter(requests), senders, start_at))


async def _post_all(url: str, queue, senders: int, start_at: float) -> dict:
    sent, latencies, errors = {}, [], []

    async def sender(http: httpx.AsyncClient) -> None:
        async with http:
            for order_id, body, headers in queue:
                sent[order_id] = started = time.monotonic()
                try:
                    if (await http.post(url, content=body, headers=headers)).status_code != 200:
                        errors.append(order_id)
                except httpx.HTTPError:
                    errors.append(order_id)
                latencies.append(time.monotonic() - started)

    # One connection per client, as separate platform hosts send: one shared httpx pool of 200 connections
    # costs O(pool) per request (3x slower here); one SSL context, as each costs ~40 ms of CPU to build.
    tls = httpx.create_ssl_context()
    one = httpx.Limits(max_connections=1)
    clients = [httpx.AsyncClient(limits=one, timeout=30, verify=tls) for _ in range(senders)]
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    cpu = time.process_time()
    await asyncio.gather(*(sender(http) for http in clients))
    return {"sent": sent, "latencies": latencies, "errors": len(errors), "end": time.monotonic(),
            "cpu": time.process_time() - cpu}


def _cpu(shares: Shares, per: float, unit: str) -> str:
    queued = " (+{:.0f}{} queued)".format
    return ", ".join(f"{role} {run * per:.0f}{unit}" + (queued(wait * per, unit) if wait >= 0.05 else "")
                     for role, (run, wait) in shares.items())


async def bench_webhooks(folder: Path, args: argparse.Namespace) -> list[tuple[str, str]]:
    n, procs = args.requests, args.client_procs
    async with Stack(folder, {"store_id": "bench-hooks", "poll_interval": "1h"}, 0, args.redis_pool) as stack:
        url = await stack.start_connector()
        reading = asyncio.create_task(consume(stack.bootstrap, "bench-hooks", n, args.timeout))
        start_at, share = time.monotonic() + 3.0, -(-n // procs)
        with ProcessPoolExecutor(procs, mp_context=get_context("spawn")) as pool:
            runs = [pool.submit(drive_webhooks, url, 10_000_000 + i * share, min(share, n - i * share),
                                args.concurrency // procs, start_at) for i in range(procs)]
            await asyncio.sleep(max(0.0, start_at - time.monotonic()))
            before = stack.sched()
            results = await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, runs)), args.timeout)
        wall = max(r["end"] for r in results) - start_at
        cpu = _shares(before, stack.sched(), wall)
        (seen, twice), rss = await reading, memory_mib(stack.processes["connector"].pid)
    sent = {k: v for r in results for k, v in r["sent"].items()}
    to_event = [seen[k][0] - sent[k] for k in sent if k in seen]
    took = [x for r in results for x in r["latencies"]]
    senders = " + ".join(f"{r['cpu'] / wall:.0%}" for r in results)
    return [("requests/s", f"{n / wall:>7,.0f}    non-200 answers {sum(r['errors'] for r in results)}"),
            ("latency p50 / p99 / max", f"{_ms(took, 0.5):>7.0f} / {_ms(took, 0.99):.0f} / {_ms(took, 1):.0f} ms"),
            ("sent → OrderReceived read p50 / p99", f"{_ms(to_event, 0.5):>7.0f} / {_ms(to_event, 0.99):.0f} ms"),
            ("OrderReceived read", f"{len(seen):>7,} of {n:,}, {twice} twice"),
            ("connector RSS at the end", f"{rss:>7.0f} MiB"),
            ("CPU, % of one core", f"{_cpu(cpu, 100, '%')}, senders {senders}")]


async def bench_poll(folder: Path, args: argparse.Namespace) -> list[tuple[str, str]]:
    store = {"store_id": "bench-poll", "poll_interval": "1s", "start_from": "2000-01-01T00:00:00Z"}
    async with Stack(folder, store, args.orders, args.redis_pool) as stack:
        alone, alone_cpu = await page_alone(stack)
        reading = asyncio.create_task(consume(stack.bootstrap, "bench-poll", args.orders, args.timeout))
        await stack.start_connector()  # it polls at once: the first pages may be published before it is healthy
        before, healthy = stack.sched(), time.monotonic()
        seen, twice = await reading
        done = max([t for t, _ in seen.values()], default=healthy)
        cpu = _shares(before, stack.sched(), done - healthy)
        rss = memory_mib(stack.processes["connector"].pid)
    stamps = sorted(ts for _, ts in seen.values()) or [0]
    rate = (len(stamps) - 1) / max(1e-3, (stamps[-1] - stamps[0]) / 1000)
    limit = max(cpu, key=lambda role: cpu[role][0])
    return [("orders/s (first → last publish)", f"{rate:>7,.0f}    healthy → last read {done - healthy:.1f} s"),
            ("sandbox alone: pages read, orders/s", f"{alone:>7,.0f}    sandbox CPU {alone_cpu:.0%}"),
            ("OrderReceived read", f"{len(seen):>7,} of {args.orders:,}, {twice} twice"),
            ("connector RSS at the end", f"{rss:>7.0f} MiB"),
            (f"CPU per page ({100_000 / rate:.0f} ms a page)", _cpu(cpu, 100_000 / rate, " ms")),
            ("the poll is limited by", f"the {limit}" + (": it sorts the whole store for every page"
                                                         if limit == "sandbox" else "; pages go one by one"))]


async def page_alone(stack: Stack) -> tuple[float, float]:
    """The sandbox alone: (orders/s, its CPU share) reading every page with the connector's client, no intake."""
    store = load_config(stack.config).stores[0]
    api, read = PlatformClient("woocommerce", store.base_url, auth=ADAPTER.auth(store)), 0
    before, started = stack.sched(), time.monotonic()
    async for page in woo.list_modified(api, store, store.start_from):
        read += len(page)
    took = time.monotonic() - started
    await api.aclose()
    return read / took, _shares(before, stack.sched(), took)["sandbox"][0]


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=200, help="webhook senders, one connection each")
    parser.add_argument("--client-procs", type=int, default=2, help="processes the senders are split over")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--redis-pool", type=int, default=0, help="the connector's Redis max_connections "
                        "(0: as shipped, a blocking pool of 64)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds a phase may take")
    parser.add_argument("--quick", action="store_true", help="2,000 webhooks and a 1,000-order poll")
    parser.add_argument("--serve-sandbox", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sandbox:
        return serve_sandbox(args.serve_sandbox[0], int(args.serve_sandbox[1]), int(args.serve_sandbox[2]))
    if args.quick:
        args.requests, args.orders = 2_000, 1_000
    with tempfile.TemporaryDirectory() as folder:
        hooks = asyncio.run(bench_webhooks(Path(folder) / "a", args))
        poll = asyncio.run(bench_poll(Path(folder) / "b", args))
    print(f"connector throughput (woocommerce), embedded broker, {os.cpu_count()} shared cores")
    print(f"  a. {args.requests:,} signed full-order webhooks, {args.concurrency} senders in {args.client_procs} "
          f"httpx processes; connector Redis pool {args.redis_pool or 'as shipped (64, blocking)'}")
    print("\n".join(f"     {label:<36} {value}" for label, value in hooks))
    print(f"  b. one poll of {args.orders:,} orders from a cursor far in the past, 100 a page")
    print("\n".join(f"     {label:<36} {value}" for label, value in poll))
    return {"webhooks": dict(hooks), "poll": dict(poll)}


if __name__ == "__main__":
    main()
