"""Connector with 1,000 connected stores: what two copies of `personalize connector etsy` cost and how they poll.

The shops are connected in the registry (PostgreSQL, credentials sealed), as the browser's connect flow
leaves them, and every one answers on one small fake of Etsy's receipts endpoint here, which records when
each shop was asked. Two connector copies follow the registry (Tansu, redis-server and PostgreSQL embedded,
every role its own process). Measured, in one run:

- each copy's RSS and CPU to start (until its ops port answers, then until every shop was polled once);
- polls per second over one whole interval once started (mean, and the quietest and busiest 10 s), and
  polls of a shop sooner than half an interval after its last (duplicates: two copies polling one shop);
- requests per app per day, projected from that interval, against the daily quota.

Etsy's quota is per app (every shop together, `connectors.budget`): 10,000 requests a day by default, so
1,000 shops poll every 4.8 h and webhooks carry the news meanwhile. A benchmark cannot wait 4.8 h, so the
quota is scaled (`--interval`: the poll interval it leaves, 150 s by default, 6.7 polls/s under Etsy's
10/s); every figure but the interval is a ratio that does not depend on the scale.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from benchmarks.procstat import load_average, memory_mib, sched
from connectors.main import open_registry
from connectors.settings import RegistrySettings
from connectors.stores import new_key
from devstack.embedded import free_port, start_broker, start_postgres, start_redis
from plumbing.kafka import ensure_topics
from plumbing.settings import Settings
from schemas import DEAD_LETTERS, ORDERS_RECEIVED, STORES

POLL_SHARE = 0.5  # of the daily quota, for polls (`RateBudget.polls_per_day`)
FIRST_SHOP = 10_000_000


@dataclass
class FakeEtsy:
    """`GET /v3/application/shops/{id}/receipts`: no receipts, and when each shop asked."""

    asked: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))

    def app(self) -> Starlette:
        async def receipts(request: Request) -> JSONResponse:
            self.asked[int(request.path_params["shop_id"])].append(time.monotonic())
            return JSONResponse({"count": 0, "results": []})

        return Starlette(routes=[Route("/v3/application/shops/{shop_id:int}/receipts", receipts)])

    def polls_between(self, start: float, end: float) -> list[float]:
        return sorted(t for times in self.asked.values() for t in times if start <= t < end)


@contextlib.asynccontextmanager
async def serving(app: Starlette, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def connect_shops(settings: RegistrySettings, count: int, api_url: str) -> None:
    """`count` Etsy shops, as a finished connect flow records them (their address is the fake's)."""
    async with open_registry(settings) as registry:
        for n in range(count):
            shop_id = str(FIRST_SHOP + n)
            await registry.connect(
                "etsy",
                shop_id,
                f"maker{n}@example.com",
                {
                    "keystring": "benchkeystring",
                    "shared_secret": "benchsharedsecret",
                    "access_token": f"{shop_id}.benchaccesstoken{n}",
                    "shop_id": shop_id,
                },
                {"base_url": api_url, "poll_interval": "1s"},  # the quota paces them, not this
            )


async def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up (exit {process.poll()})")


async def polls_by_copy(ops_ports: list[int]) -> list[int]:
    """Each copy's `connector_polls_total{result="ok"}`, summed over its stores."""
    counts = []
    async with httpx.AsyncClient(timeout=5) as http:
        for port in ops_ports:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            counts.append(
                round(
                    sum(
                        float(line.rsplit(" ", 1)[1])
                        for line in text.splitlines()
                        if line.startswith("connector_polls_total{") and 'result="ok"' in line
                    )
                )
            )
    return counts


def spread(times: list[float], start: float, end: float, bucket_s: float = 10.0) -> tuple[float, float, float]:
    """Polls per second over [start, end): the mean, and the quietest and busiest `bucket_s`."""
    buckets = [0] * max(1, int((end - start) // bucket_s))
    for t in times:
        index = int((t - start) // bucket_s)
        if index < len(buckets):
            buckets[index] += 1
    return len(times) / (end - start), min(buckets) / bucket_s, max(buckets) / bucket_s


def too_soon(asked: dict[int, list[float]], interval_s: float) -> int:
    """Polls of a shop less than half an interval after its previous one: a second copy polling it."""
    return sum(1 for times in asked.values() for a, b in itertools.pairwise(times) if b - a < interval_s / 2)


async def run(args: argparse.Namespace) -> dict:
    quota = round(86_400 * args.stores / (args.interval * POLL_SHARE))  # what paces each shop to `interval`
    fake, api_port = FakeEtsy(), free_port()
    with tempfile.TemporaryDirectory(prefix="bench-stores-") as tmp:
        folder = Path(tmp)
        broker, redis = start_broker(folder), start_redis(folder)
        postgres = start_postgres(folder / "postgres", delete_on_stop=True)
        copies: list[subprocess.Popen] = []
        try:
            key = new_key()
            registry = RegistrySettings.model_validate({"database_url": postgres.url, "credentials_key": key})
            began = time.monotonic()
            await connect_shops(registry, args.stores, f"http://127.0.0.1:{api_port}")
            connected_s = time.monotonic() - began
            await ensure_topics(
                Settings(kafka_bootstrap=broker.address, topic_partitions=8), [ORDERS_RECEIVED, DEAD_LETTERS, STORES]
            )
            config = folder / "config.yaml"
            config.write_text(yaml.safe_dump({"stores": []}))
            ops_ports = [free_port() for _ in range(args.copies)]
            async with serving(fake.app(), api_port):
                ready: list[tuple[float, float]] = []  # per copy: seconds to its ops port, CPU by then
                t0 = time.monotonic()
                for ops in ops_ports:
                    env = dict(
                        os.environ,
                        PERSONALIZE_KAFKA_BOOTSTRAP=broker.address,
                        PERSONALIZE_REDIS_URL=f"redis://{redis.address}/0",
                        PERSONALIZE_CONFIG=str(config),
                        PERSONALIZE_DATABASE_URL=postgres.url,
                        PERSONALIZE_CREDENTIALS_KEY=key,
                        PERSONALIZE_ETSY_DAILY_QUOTA=str(quota),
                        PERSONALIZE_LOG_LEVEL="ERROR",  # the first polls over the per-second budget each warn
                        PERSONALIZE_OPS_PORT=str(ops),
                    )
                    command = [sys.executable, "-m", "personalize.cli", "connector", "etsy", "--port", str(free_port())]
                    copies.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
                for process, ops in zip(copies, ops_ports, strict=True):
                    await _wait_ready(f"http://127.0.0.1:{ops}/health", process)
                    ready.append((time.monotonic() - t0, sched(process.pid)[0]))
                while len(fake.asked) < args.stores and time.monotonic() - t0 < 3 * args.interval:
                    await asyncio.sleep(0.5)
                all_polled_s = time.monotonic() - t0
                started_cpu = [sched(p.pid)[0] for p in copies]
                # Steady state: one whole interval after every shop's first interval.
                window = (t0 + args.interval, t0 + 2 * args.interval)
                await asyncio.sleep(max(0.0, window[0] - time.monotonic()))
                cpu_before = [sched(p.pid)[0] for p in copies]
                await asyncio.sleep(max(0.0, window[1] - time.monotonic()))
                window_cpu = sum(sched(p.pid)[0] for p in copies) - sum(cpu_before)
                await asyncio.sleep(1)
                per_copy = await polls_by_copy(ops_ports)
                rss = [memory_mib(p.pid) for p in copies]
                peak = [memory_mib(p.pid, "VmHWM") for p in copies]
        finally:
            for process in copies:
                process.terminate()
            for process in copies:
                process.wait(30)
            postgres.stop()
            redis.stop()
            broker.stop()
    times = fake.polls_between(*window)
    mean, quietest, busiest = spread(times, *window)
    return {
        "stores": args.stores,
        "copies": args.copies,
        "interval_s": args.interval,
        "quota": quota,
        "connected_s": connected_s,
        "ready": ready,
        "all_polled_s": all_polled_s,
        "shops_polled": len(fake.asked),
        "started_cpu_s": started_cpu,
        "rss_mib": rss,
        "peak_mib": peak,
        "polls_per_s": (mean, quietest, busiest),
        "window_polls": len(times),
        "window_cpu_s": window_cpu,
        "too_soon": too_soon(fake.asked, args.interval),
        "per_copy": per_copy,
        "per_day": len(times) / args.interval * 86_400,
    }


def report(r: dict) -> None:
    stores, copies = r["stores"], r["copies"]
    mean, quietest, busiest = r["polls_per_s"]
    print(
        f"connector, {stores:,} Etsy shops connected in the registry ({r['connected_s']:.1f} s to connect), "
        f"{copies} copies; daily quota scaled to {r['quota']:,} so each shop polls every {r['interval_s']:.0f} s"
    )
    for n, ((up_s, cpu_up), cpu, rss, peak) in enumerate(
        zip(r["ready"], r["started_cpu_s"], r["rss_mib"], r["peak_mib"], strict=True), start=1
    ):
        print(
            f"  copy {n}: ready in {up_s:.1f} s ({cpu_up:.2f} s CPU); {cpu:.2f} s CPU once every shop was polled; "
            f"RSS {rss:.0f} MiB (peak {peak:.0f})"
        )
    print(f"  every shop polled once {r['all_polled_s']:.0f} s after start ({r['shops_polled']:,} of {stores:,})")
    print(
        f"  one interval ({r['interval_s']:.0f} s) once started: {r['window_polls']:,} polls for {stores:,} shops, "
        f"{mean:.2f}/s (quietest 10 s {quietest:.1f}/s, busiest {busiest:.1f}/s; even: {stores / r['interval_s']:.2f}/s)"
    )
    print(
        f"  CPU over that interval, both copies: {r['window_cpu_s']:.1f} s, "
        f"{r['window_cpu_s'] / max(1, r['window_polls']) * 1000:.1f} ms a poll, "
        f"{r['window_cpu_s'] / r['interval_s']:.0%} of a core"
    )
    print(
        f"  polls sooner than half an interval after the shop's last: {r['too_soon']}; polls by copy: "
        + ", ".join(f"{n:,}" for n in r["per_copy"])
    )
    share = r["per_day"] / r["quota"]
    print(
        f"  requests per app per day, projected: {r['per_day']:,.0f} of {r['quota']:,} ({share:.0%}; polls may use "
        f"{POLL_SHARE:.0%}, the rest is for webhook fetches); at Etsy's 10,000 a day: every "
        f"{86_400 * stores / (10_000 * POLL_SHARE) / 3600:.1f} h"
    )
    print(f"  load average after: {load_average()}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--interval", type=float, default=150.0, help="seconds between a shop's polls")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    report(result)
    return result


if __name__ == "__main__":
    main()
