"""`personalize soak`: the whole stack under steady orders and scheduled faults, then a check of what it holds.

1. start the embedded broker and Redis (AOF), a mail catcher, five sandboxes,
   five connectors, two copies of core, two notifiers and the editor, each
   its own process, on a config written for the run (short poll);
2. for `--minutes`: place orders (`traffic.py`), complete links from the
   emails (`customer.py`), approve (`merchant.py`), inflict faults (`faults.py`);
3. drain: wait until every order reached what the script's actions imply and
   nothing is in flight, or until the deadline;
4. gather the evidence and judge it (`report.py`); exit 1 on any problem.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from devstack.embedded import free_port
from plumbing.config import Config
from plumbing.durations import parse_duration
from plumbing.kafka import ensure_topics
from plumbing.settings import Settings
from schemas import EVENTS_BY_TOPIC
from soak.config import PLATFORMS, SoakStore, write_config
from soak.customer import Customer, Mailbox
from soak.drain import drain, gather_evidence, progress
from soak.evidence import Evidence
from soak.faults import Chaos
from soak.ledger import OrderRun
from soak.merchant import Merchant
from soak.observe import LinkBook
from soak.plan import Plan, make_plan
from soak.processes import Stack
from soak.report import Report, judge
from soak.traffic import Traffic

log = logging.getLogger("soak")


@dataclass(frozen=True)
class SoakOptions:
    minutes: float = 5.0
    seed: int = 1
    rate: float = 1.0  # orders per second, over all five stores
    state: Path = Path(".personalize/soak")
    link_delay: str = "2s"
    link_ttl: str = "20s"
    poll_interval: str = "5s"
    drain_s: float = 240.0
    partitions: int = 4
    reminders: list[str] | None = None  # default: one reminder at 40 % of the link's life


def run_soak(options: SoakOptions) -> tuple[int, Report]:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # every reconnect while the broker is paused
    report = asyncio.run(_soak(options))
    print(report.render(), flush=True)
    (options.state / "report.txt").write_text(report.render() + "\n")
    return (0 if report.ok else 1), report


async def _soak(o: SoakOptions) -> Report:
    if o.state.exists():
        shutil.rmtree(o.state)
    o.state.mkdir(parents=True)
    ports = {p: (free_port(), free_port()) for p in PLATFORMS}
    reminders = (
        o.reminders
        if o.reminders is not None
        else [f"{max(1, int(parse_duration(o.link_ttl).total_seconds() * 0.4))}s"]
    )
    config, stores = write_config(o.state / "config.yaml", ports, o.poll_interval, reminders)
    plan = make_plan(o.seed, o.minutes, o.rate, {p: s.approval for p, s in stores.items()})
    stack = Stack(o.state)
    try:
        env, ops = await _start(stack, o, stores)
        print(
            f"soak: seed {o.seed}, {o.minutes:g} min, {len(plan.orders)} orders, {len(plan.faults)} faults; "
            f"{len(stack.services)} services starting; state and logs in {o.state}",
            flush=True,
        )
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200)) as http:
            await _wait_ready(
                http,
                [f"{s.base_url}/_sandbox/orders" for s in stores.values()] + [f"{url}/health" for url in ops],
            )
            evidence = await _run(o, plan, config, stores, stack, env, http)
        header = (
            f"soak report: seed {o.seed}, {o.minutes:g} min at {o.rate:g} orders/s, "
            f"{sum(1 for r in evidence.runs if r.placed)} orders placed, link delay {o.link_delay}, "
            f"ttl {o.link_ttl}, reminder after {', '.join(reminders) or 'none'}"
        )
        return judge(evidence, header)
    finally:
        await asyncio.to_thread(stack.stop)


async def _start(stack: Stack, o: SoakOptions, stores: dict[str, SoakStore]) -> tuple[dict[str, str], list[str]]:
    """Broker, Redis, mail, then every service as its own process, each with its own ops port (/health,
    /metrics: two copies on one host); returns the services' environment and the editor's and connectors' ops
    addresses."""
    stack.start_infrastructure()
    broker, _, _ = stack.started()
    await ensure_topics(Settings(kafka_bootstrap=broker.address, topic_partitions=o.partitions), EVENTS_BY_TOPIC)
    editor_port = free_port()
    env = _environment(o, stack, editor_port)
    ops: list[str] = []

    def own_ops_port() -> dict[str, str]:
        port = free_port()
        ops.append(f"http://127.0.0.1:{port}")
        return {**env, "PERSONALIZE_OPS_PORT": str(port)}

    for platform, store in stores.items():
        stack.add(
            f"sandbox-{platform}",
            [
                "sandbox",
                platform,
                "--port",
                str(store.sandbox_port),
                "--store",
                store.store_id,
                "--webhook-url",
                store.webhook_url,
            ],
            env,
        )
        connector = ["connector", platform, "--port", str(store.connector_port)]
        stack.add(f"connector-{platform}", connector, own_ops_port())
    for copy in (1, 2):
        stack.add(f"core-{copy}", ["core"], {**env, "PERSONALIZE_OPS_PORT": str(free_port())})
        stack.add(f"notifier-{copy}", ["notifier"], {**env, "PERSONALIZE_OPS_PORT": str(free_port())})
    stack.add("editor", ["editor", "--port", str(editor_port)], own_ops_port())
    stack.start_all()
    return env, ops


async def _run(
    o: SoakOptions,
    plan: Plan,
    config: Config,
    stores: dict[str, SoakStore],
    stack: Stack,
    env: dict[str, str],
    http: httpx.AsyncClient,
) -> Evidence:
    """Traffic, customer, merchant and faults; then the drain; then the evidence."""
    broker, _, mail = stack.started()
    bootstrap = broker.address
    seeded = {
        f"{s.platform}:{s.store_id}:": set((await http.get(f"{s.base_url}/_sandbox/orders")).json()["ids"])
        for s in stores.values()
    }
    redis = Redis.from_url(env["PERSONALIZE_REDIS_URL"], socket_timeout=10)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=15_000)
    await producer.start()
    runs = [OrderRun(p, stores[p.platform]) for p in plan.orders]
    links, mailbox = LinkBook(bootstrap), Mailbox(mail.folder)
    customer = Customer(mailbox, links, runs, http, o.seed)
    stop = asyncio.Event()
    actors = {
        "supervisor": stack.supervise(stop),
        "link book": links.run(stop),
        "customer": customer.run(stop),
        "merchant": Merchant(runs, redis, producer, o.seed).run(stop),
    }
    background = [asyncio.create_task(_logged(name, actor)) for name, actor in actors.items()]
    try:
        start = asyncio.get_running_loop().time()
        chaos = Chaos(plan.faults, stack, stores, http, start)
        background.append(asyncio.create_task(progress(runs, mailbox, chaos, start, stop)))
        await asyncio.gather(Traffic(runs, config, http, start).run(), chaos.run())
        print(
            f"soak: traffic and faults done after {asyncio.get_running_loop().time() - start:.0f}s; draining",
            flush=True,
        )
        drained = await drain(runs, redis, o.drain_s)
        evidence = await gather_evidence(
            runs, stores, redis, bootstrap, http, seeded, mailbox, customer, chaos, stack, drained
        )
        evidence.stops = await asyncio.to_thread(stack.stop_services)  # how each one takes a SIGTERM
        return evidence
    finally:
        stop.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await producer.stop()
        await redis.aclose()


async def _logged(name: str, actor: Awaitable[None]) -> None:
    """A background actor that dies would silently starve the run: say so loudly."""
    try:
        await actor
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("soak: the %s failed; the report will show what it left undone", name)
        raise


def _environment(o: SoakOptions, stack: Stack, editor_port: int) -> dict[str, str]:
    broker, redis, mail = stack.started()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONALIZE_")}
    env.update(
        {
            "PERSONALIZE_CONFIG": str((o.state / "config.yaml").resolve()),
            "PERSONALIZE_KAFKA_BOOTSTRAP": broker.address,
            "PERSONALIZE_REDIS_URL": f"redis://{redis.address}/0",
            "PERSONALIZE_SMTP_URL": mail.url,
            "PERSONALIZE_LINK_DELAY": o.link_delay,
            "PERSONALIZE_LINK_TTL": o.link_ttl,
            "PERSONALIZE_PUBLIC_URL": f"http://127.0.0.1:{editor_port}",
            "PERSONALIZE_EDITOR_SECRET": secrets.token_urlsafe(32),
            "PERSONALIZE_ASSETS_DIR": str((o.state / "assets").resolve()),
            "PERSONALIZE_EDITOR_RATE_PER_TOKEN": "1000",  # one scripted customer, one address: not what limits test
            "PERSONALIZE_EDITOR_RATE_PER_ADDRESS": "100000",
            "PERSONALIZE_TOPIC_PARTITIONS": str(o.partitions),
            "PERSONALIZE_LOG_FORMAT": "text",
            "PERSONALIZE_LOG_LEVEL": "INFO",
        }
    )
    return env


async def _wait_ready(http: httpx.AsyncClient, urls: list[str], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    for url in urls:
        while True:
            try:
                if (await http.get(url, timeout=5)).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"soak: {url} not ready after {timeout_s:.0f}s; see the logs in the state folder")
            await asyncio.sleep(0.5)
