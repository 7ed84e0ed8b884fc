"""`personalize dev`: the whole system on one machine, on an embedded broker and Redis.

Services run as the same subprocesses production runs (`personalize core`, …),
with their environment pointed at the embedded servers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from personalize.config import load_config
from personalize.demo import sample_order
from personalize.embedded import EmbeddedServer, start_broker, start_redis
from personalize.kafka import ensure_topics, publish
from personalize.settings import Settings, load_settings
from schemas import EVENTS_BY_TOPIC, decode

SERVICES = {"core": ["core"]}  # grows with each deployable


def run_dev(state: Path, *, demo_order: bool = True, exit_after: float | None = None) -> int:
    settings = load_settings(Settings)
    config_path = settings.config.resolve()
    load_config(config_path)  # a bad file stops here, before anything starts
    state.mkdir(parents=True, exist_ok=True)

    servers: list[EmbeddedServer] = []
    services: dict[str, subprocess.Popen] = {}
    try:
        env = dict(os.environ, PERSONALIZE_CONFIG=str(config_path))
        if not settings.kafka_bootstrap:
            servers.append(start_broker(state))
            env["PERSONALIZE_KAFKA_BOOTSTRAP"] = servers[-1].address
        if not settings.redis_url:
            servers.append(start_redis(state))
            env["PERSONALIZE_REDIS_URL"] = f"redis://{servers[-1].address}/0"
        for name, argv in SERVICES.items():
            services[name] = subprocess.Popen([sys.executable, "-m", "personalize.cli", *argv], env=env,
                                              start_new_session=True)
        _print_summary(env, servers, services, config_path, state)
        return asyncio.run(_watch(env, services, demo_order, exit_after))
    finally:
        for process in services.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in services.items():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                print(f"dev: {name} did not stop within 10 s; killing it", file=sys.stderr)
                process.kill()
        for server in reversed(servers):
            server.stop()
        print("dev: stopped")


def _print_summary(env: dict[str, str], servers: list[EmbeddedServer], services: dict[str, subprocess.Popen],
                   config: Path, state: Path) -> None:
    print("personalize dev is up (Ctrl-C stops everything)")
    print(f"  kafka     {env['PERSONALIZE_KAFKA_BOOTSTRAP']}" + (" (embedded Tansu, memory only)" if any(s.name == "broker" for s in servers) else ""))
    print(f"  redis     {env['PERSONALIZE_REDIS_URL']}" + (f" (embedded, AOF in {state / 'redis'})" if any(s.name == "redis" for s in servers) else ""))
    print(f"  config    {config}")
    for name, process in services.items():
        print(f"  {name:<9} pid {process.pid}")
    print("  events on every topic are printed below as they flow", flush=True)


async def _watch(env: dict[str, str], services: dict[str, subprocess.Popen], demo_order: bool,
                 exit_after: float | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = Settings(kafka_bootstrap=env["PERSONALIZE_KAFKA_BOOTSTRAP"])
    await ensure_topics(settings, EVENTS_BY_TOPIC)
    tail = asyncio.create_task(_tail(settings.required_bootstrap()))
    if demo_order:
        await _place_demo_order(settings)
    deadline = time.monotonic() + exit_after if exit_after else None
    code = 0
    while not stop.is_set():
        dead = {name: p.returncode for name, p in services.items() if p.poll() is not None}
        if dead:
            print(f"dev: service exited: {dead}; stopping", file=sys.stderr)
            code = 1
            break
        if deadline and time.monotonic() > deadline:
            break
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.5)
        except asyncio.TimeoutError:
            pass
    tail.cancel()
    return code


async def _place_demo_order(settings: Settings) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.required_bootstrap())
    await producer.start()
    try:
        order = sample_order(int(time.time()))
        await publish(producer, [order])
        print(f"dev: placed a sample order {order.order_key} (one name mug to personalize, one plain tote)", flush=True)
    finally:
        await producer.stop()


async def _tail(bootstrap: str) -> None:
    consumer = AIOKafkaConsumer(*EVENTS_BY_TOPIC, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="latest", enable_auto_commit=False)
    await consumer.start()
    try:
        async for record in consumer:
            try:
                event = decode(record.topic, record.value)
            except ValueError:
                print(f"  {record.topic:<26} (undecodable, {len(record.value or b'')} bytes)", flush=True)
                continue
            detail = ""
            if hasattr(event, "to_status"):
                detail = f"{event.from_status.value if event.from_status else '∅'} → {event.to_status.value} ({event.reason})"
            elif hasattr(event, "notify_after"):
                detail = f"link due {event.notify_after:%H:%M:%S} UTC to {event.merchant_email}"
            elif hasattr(event, "error"):
                detail = event.error
            print(f"  {record.topic:<26} {event.event_type:<26} {event.order_key}  {detail}", flush=True)
    finally:
        await consumer.stop()
