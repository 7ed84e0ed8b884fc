"""Connector throughput: signed WooCommerce webhooks at a fixed rate and flat out, and one poll of a large store.

Every role is its own process on loopback (Tansu, redis-server, `personalize connector woocommerce`, the seeded
sandbox, the load generator `benchmarks.loadgen`); this one only reads `orders.received`. The webhooks go
out on 200 keep-alive connections, first **open loop** at a fixed offered rate (1,000/s: what the target
asks, latency counted from when each webhook was due), then **closed loop** (each connection sends again as
soon as it is answered: the most the connector can take, and a latency that is mostly queueing). Why both:
`benchmarks/README.md`. CPU per process comes from /proc, with the time it sat runnable waiting for a core
(the two cores are shared by every process here), so the table shows who ran out first.
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

from benchmarks import loadgen, profile
from benchmarks.loadgen import percentile_ms as _ms
from benchmarks.orders import OrderReader
from benchmarks.procstat import load_average, memory_mib, sched
from connectors.client import PlatformClient
from connectors.woocommerce import ADAPTER
from connectors.woocommerce import client as woo
from connectors.woocommerce.signature import sign
from devstack.embedded import free_port, start_broker, start_redis
from plumbing.config import load_config
from plumbing.kafka import ensure_topics
from plumbing.settings import Settings
from schemas import DEAD_LETTERS, ORDERS_RECEIVED

SAMPLE = Path(__file__).parents[1] / "sandboxes" / "samples" / "woocommerce" / "order_retrieve_v3.json"
SECRET = "bench-webhook-secret"
Shares = dict[str, tuple[float, float]]  # role → (share of a core used, share spent waiting for one)


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
        self.ops_port = free_port()
        self.processes: dict[str, subprocess.Popen] = {}

    async def __aenter__(self) -> Stack:
        try:
            broker, redis = start_broker(self.folder), start_redis(self.folder)
            self.processes.update(broker=broker.process, redis=redis.process)
            self.bootstrap, pool = broker.address, f"?max_connections={self.redis_pool}" if self.redis_pool else ""
            self.config.write_text(
                yaml.safe_dump(
                    {
                        "stores": [
                            {
                                "platform": "woocommerce",
                                "merchant_email": "bench@example.com",
                                "webhook_secret": SECRET,
                                "base_url": f"http://127.0.0.1:{self.sandbox_port}",
                                **self.store,
                                "credentials": {"consumer_key": "ck_bench", "consumer_secret": "cs_bench"},
                            }
                        ]
                    }
                )
            )
            self.env = dict(
                os.environ,
                PERSONALIZE_KAFKA_BOOTSTRAP=self.bootstrap,
                PERSONALIZE_CONFIG=str(self.config),
                PERSONALIZE_REDIS_URL=f"redis://{redis.address}/0{pool}",
                PERSONALIZE_LOG_LEVEL="WARNING",
                PERSONALIZE_OPS_PORT=str(self.ops_port),
            )
            self.processes["sandbox"] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.connector_throughput",
                    "--serve-sandbox",
                    str(self.config),
                    str(self.sandbox_port),
                    str(self.seed),
                ],
                env=self.env,
            )
            await ensure_topics(
                Settings(kafka_bootstrap=self.bootstrap, topic_partitions=8), [ORDERS_RECEIVED, DEAD_LETTERS]
            )
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
        await _wait_http(f"http://127.0.0.1:{self.ops_port}/health", self.processes["connector"], 200)  # not public
        return f"http://127.0.0.1:{self.port}/webhooks/woocommerce/{self.store['store_id']}"

    def sched(self) -> dict[str, tuple[float, float]]:
        return {role: sched(p.pid) for role, p in self.processes.items()}


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


def webhook_jobs(path: str, first_id: int, count: int) -> list[loadgen.Job]:
    """Signed full-order webhooks (order.created), one distinct order each, built before the clock starts."""
    template, jobs = json.loads(SAMPLE.read_text()), []
    for order_id in range(first_id, first_id + count):
        modified = (datetime(2024, 1, 1) + timedelta(seconds=order_id - first_id)).isoformat()
        body = json.dumps(
            {**template, "id": order_id, "number": str(order_id), "date_modified_gmt": modified}, separators=(",", ":")
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Signature": sign(SECRET, body),
        }
        jobs.append((str(order_id), loadgen.request_bytes("POST", path, headers, body)))
    return jobs


async def send(
    stack: Stack, path: str, first_id: int, count: int, connections: int, rate: float | None
) -> tuple[loadgen.Result, Shares]:
    """One load: the generator in its own process; each process's share of a core while it ran."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        before = stack.sched()
        result = await asyncio.wrap_future(
            pool.submit(
                loadgen.run,
                stack.port,
                webhook_jobs,
                (path, first_id, count),
                connections,
                rate,
                time.monotonic() + 3.0,
            )
        )
        after = stack.sched()
    took = result.ended - result.began
    shares = _shares(before, after, took)
    shares["generator"] = (result.cpu / took, result.waited / took)
    return result, shares


def _cpu(shares: Shares, per: float, unit: str) -> str:
    queued = " (+{:.0f}{} queued)".format
    return ", ".join(
        f"{role} {run * per:.0f}{unit}" + (queued(wait * per, unit) if wait >= 0.05 else "")
        for role, (run, wait) in shares.items()
        if run * per >= 0.5
    )


def _rows(result: loadgen.Result, shares: Shares, reader: OrderReader, read: int, rss: float) -> dict[str, str]:
    took, n = result.ended - result.began, len(result.latencies)
    sent = {k: v for k, v in result.sent.items() if k in reader.seen}
    to_event = [reader.seen[k] - v for k, v in sent.items()]
    errors = {k: v for k, v in result.statuses.items() if k != "200"}
    lat = result.latencies
    return {
        "webhooks/s": f"{n / took:>7,.0f}    non-200 answers {errors or 0}",
        "latency p50 / p99 / max": f"{_ms(lat, 0.5):>7.1f} / {_ms(lat, 0.99):.1f} / {_ms(lat, 1):.1f} ms",
        "sent → OrderReceived read p50 / p99": f"{_ms(to_event, 0.5):>7.1f} / {_ms(to_event, 0.99):.1f} ms",
        "OrderReceived read": f"{read:>7,} of {n:,}, {reader.twice} twice so far",
        "connector RSS now / peak": f"{rss:>7.0f} MiB",
        "CPU, % of one core": _cpu(shares, 100, "%"),
        "connector CPU per webhook": f"{shares['connector'][0] * took * 1000 / n:>7.2f} ms",
        "sent late p99 (see README)": f"{_ms(result.lags, 0.99):>7.1f} ms",
        "_p99_ms": _ms(lat, 0.99),
        "_rate": n / took,
        "_event_p99_ms": _ms(to_event, 0.99),
        "_errors": sum(errors.values()),
        "_missing": n - read,
        "_twice": reader.twice,
        "_cpu_ms": shares["connector"][0] * took * 1000 / n,
    }


async def bench_webhooks(folder: Path, args: argparse.Namespace) -> dict[str, dict[str, str]]:
    store_id, phases = "bench-hooks", {}
    async with Stack(folder, {"store_id": store_id, "poll_interval": "1h"}, 0, args.redis_pool) as stack:
        await stack.start_connector()
        path, next_id = f"/webhooks/woocommerce/{store_id}", 10_000_000
        connector = stack.processes["connector"].pid
        async with OrderReader(stack.bootstrap, store_id) as reader:
            plan = [
                ("warm-up", min(1_000, args.requests), None),
                ("open", int(args.rate * args.seconds), args.rate),
                ("closed", args.requests, None),
            ]
            if args.profile:
                plan.append(("profile", args.requests, None))
            for name, count, rate in plan:
                load = load_average()
                recording = None
                if name == "profile":
                    seconds = count / max(1.0, phases["closed"]["_rate"]) + 3
                    recording = profile.start(connector, args.profile / "connector.txt", seconds + 2)
                result, shares = await send(stack, path, next_id, count, args.concurrency, rate)
                read = await reader.wait_for(list(result.sent), timeout=30)
                phases[name] = {**_rows(result, shares, reader, read, memory_mib(connector)), "load average": load}
                next_id += count
                if recording:
                    recording.wait()
            peak = memory_mib(connector, "VmHWM")
            phases["closed"]["connector RSS now / peak"] = f"{memory_mib(connector):>7.0f} / {peak:.0f} MiB"
            phases["closed"]["_rss_peak_mib"] = peak
    return phases


async def bench_poll(folder: Path, args: argparse.Namespace) -> list[tuple[str, str]]:
    store = {"store_id": "bench-poll", "poll_interval": "1s", "start_from": "2000-01-01T00:00:00Z"}
    async with Stack(folder, store, args.orders, args.redis_pool) as stack:
        alone, alone_cpu = await page_alone(stack)
        async with OrderReader(stack.bootstrap, "bench-poll") as reader:
            await stack.start_connector()  # it polls at once: the first pages may be published before it is healthy
            before, healthy = stack.sched(), time.monotonic()
            while len(reader.seen) < args.orders and time.monotonic() < healthy + args.timeout:
                await asyncio.sleep(0.1)
            seen, twice = dict(reader.seen), reader.twice
            done = max(seen.values(), default=healthy)
            cpu = _shares(before, stack.sched(), done - healthy)
            rss = memory_mib(stack.processes["connector"].pid)
            stamps = sorted(reader.stamps.values()) or [0]
    rate = (len(stamps) - 1) / max(1e-3, (stamps[-1] - stamps[0]) / 1000)
    limit = max(cpu, key=lambda role: cpu[role][0])
    return [
        ("orders/s (first → last publish)", f"{rate:>7,.0f}    healthy → last read {done - healthy:.1f} s"),
        ("sandbox alone: pages read, orders/s", f"{alone:>7,.0f}    sandbox CPU {alone_cpu:.0%}"),
        ("OrderReceived read", f"{len(seen):>7,} of {args.orders:,}, {twice} twice"),
        ("connector RSS at the end", f"{rss:>7.0f} MiB"),
        (f"CPU per page ({100_000 / rate:.0f} ms a page)", _cpu(cpu, 100_000 / rate, " ms")),
        (
            "the poll is limited by",
            f"the {limit}"
            + (": it sorts the whole store for every page" if limit == "sandbox" else "; pages go one by one"),
        ),
    ]


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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1000, help="offered webhooks/s of the open-loop phase")
    parser.add_argument("--seconds", type=float, default=15, help="length of the open-loop phase")
    parser.add_argument("--requests", type=int, default=10_000, help="webhooks of the closed-loop phase")
    parser.add_argument("--concurrency", type=int, default=200, help="keep-alive connections the webhooks go on")
    parser.add_argument("--orders", type=int, default=10_000, help="orders of the poll phase (0: no poll phase)")
    parser.add_argument(
        "--redis-pool", type=int, default=0, help="the connector's Redis max_connections (0: as shipped)"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds a phase may take")
    parser.add_argument("--profile", type=Path, help="also run a closed-loop phase under py-spy, into this folder")
    parser.add_argument("--quick", action="store_true", help="5 s open loop, 3,000 closed-loop webhooks, no poll")
    parser.add_argument("--serve-sandbox", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sandbox:
        return serve_sandbox(args.serve_sandbox[0], int(args.serve_sandbox[1]), int(args.serve_sandbox[2]))
    if args.quick:
        args.seconds, args.requests, args.orders = 5, 3_000, 0
    with tempfile.TemporaryDirectory() as folder:
        hooks = asyncio.run(bench_webhooks(Path(folder) / "a", args))
        poll = asyncio.run(bench_poll(Path(folder) / "b", args)) if args.orders else []
    print(
        f"connector throughput (woocommerce), embedded broker, {os.cpu_count()} shared cores, "
        f"{args.concurrency} keep-alive connections from one generator process"
    )
    titles = {
        "open": f"open loop: {args.rate:,.0f} webhooks/s offered for {args.seconds:.0f} s",
        "closed": f"closed loop: {args.requests:,} webhooks back to back (the most it takes)",
        "profile": f"closed loop under py-spy: see {args.profile}/connector.txt",
    }
    for name, title in titles.items():
        if name in hooks:
            rows = hooks[name]
            print(f"  {title} (load average before: {rows['load average']})")
            print(
                "\n".join(
                    f"     {label:<36} {value}"
                    for label, value in rows.items()
                    if not label.startswith("_") and label != "load average"
                )
            )
    if poll:
        print(f"  one poll of {args.orders:,} orders from a cursor far in the past, 100 a page")
        print("\n".join(f"     {label:<36} {value}" for label, value in poll))
    if args.profile:
        print(f"  where the connector's CPU went (closed loop, py-spy, {args.profile}/connector.txt)")
        print("\n".join(f"     {row}" for row in profile.top(args.profile / "connector.txt")))
    return {"webhooks": hooks, "poll": dict(poll)}


if __name__ == "__main__":
    main()
