"""Notifier: emails per second against a local SMTP server, and the lag from `notify_after` to the send.

N requests (2,000 by default) all due at the same moment, a few seconds
ahead, so the notifier's scheduler meets a burst; the SMTP server (aiosmtpd)
timestamps each message as it arrives. The notifier runs as a real process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from benchmarks.procstat import memory_mib
from devstack.embedded import start_broker, start_redis
from devstack.mailcatcher import MailCatcher
from plumbing.config import load_config
from plumbing.kafka import ensure_topics
from plumbing.settings import Settings
from schemas import EVENTS_BY_TOPIC, PersonalizationRequested, RequestedItem, encode

ROOT = Path(__file__).parents[1]


async def produce(bootstrap: str, count: int, due: datetime) -> None:
    template = load_config(ROOT / "examples" / "config.yaml").template("name-mug")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=10)
    await producer.start()
    try:
        sends = []
        for n in range(count):
            request = PersonalizationRequested(
                order_key=f"woocommerce:demo-woo:{n}",
                store_id="demo-woo",
                platform="woocommerce",
                order_number=str(n),
                merchant_email="merchant@example.com",
                received_at=due,
                notify_after=due,
                items=[RequestedItem(line_id="1", title="Name mug", quantity=1, template=template)],
            )
            sends.append(
                await producer.send("personalization.requested", encode(request), key=request.order_key.encode())
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(count: int, lead_s: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        broker, redis = start_broker(Path(state)), start_redis(Path(state))
        arrivals: list[float] = []
        mail = MailCatcher(Path(state) / "mail").start()
        original = mail._keeper.handle_DATA

        async def timed(server, session, envelope):
            arrivals.append(time.time())
            return await original(server, session, envelope)

        mail._keeper.handle_DATA = timed
        env = dict(
            os.environ,
            PERSONALIZE_KAFKA_BOOTSTRAP=broker.address,
            PERSONALIZE_REDIS_URL=f"redis://{redis.address}/0",
            PERSONALIZE_CONFIG=str(ROOT / "examples" / "config.yaml"),
            PERSONALIZE_SMTP_URL=mail.url,
            PERSONALIZE_LOG_LEVEL="WARNING",
            PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS="3000",
        )
        notifier = subprocess.Popen([sys.executable, "-m", "personalize.cli", "notifier"], env=env)
        try:
            await ensure_topics(Settings(kafka_bootstrap=broker.address), EVENTS_BY_TOPIC)
            due = datetime.now(UTC) + timedelta(seconds=lead_s)
            await produce(broker.address, count, due)
            deadline = time.monotonic() + lead_s + 300
            while len(arrivals) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            rss = memory_mib(notifier.pid)
        finally:
            notifier.terminate()
            notifier.wait(20)
            mail.stop()
            broker.stop()
            redis.stop()
    lags = [t - due.timestamp() for t in arrivals]
    span = max(arrivals) - min(arrivals) if len(arrivals) > 1 else float("nan")
    return {
        "count": count,
        "sent": len(arrivals),
        "rate": (len(arrivals) - 1) / span if span else float("nan"),
        "lag_p50": statistics.median(lags),
        "lag_p99": percentile(lags, 0.99),
        "lag_max": max(lags),
        "rss_mib": rss,
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--lead", type=float, default=8.0, help="seconds from now until every request is due")
    args = parser.parse_args(argv)
    r = asyncio.run(run(args.requests, args.lead))
    print(f"notifier, {r['count']:,} links due at once, local SMTP server (aiosmtpd)")
    print(f"  {'emails sent':<40} {r['sent']:>9,}")
    print(f"  {'emails/s (first to last)':<40} {r['rate']:>9,.0f}")
    print(
        f"  {'lag after notify_after p50 / p99 / max':<40} {r['lag_p50']:>6.2f} / {r['lag_p99']:.2f} / {r['lag_max']:.2f} s"
    )
    print(f"  {'notifier RSS':<40} {r['rss_mib']:>9.0f} MiB")
    return r


if __name__ == "__main__":
    main()
