"""`personalize notifier`: consume requests and status changes, send links and reminders when due, deliver automation webhooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from notifier.automation import HOOK_TOPICS, HookDeliverer, HookRouter
from notifier.handlers import NotifierHandler
from notifier.hook_jobs import RedisHookJobs
from notifier.mail import SmtpSender, parse_smtp_url
from notifier.outbox import Outbox
from notifier.redis_store import RedisLinkStore
from notifier.render import EmailRenderer
from notifier.scheduler import LinkScheduler
from notifier.settings import NotifierSettings
from plumbing.config import load_config
from plumbing.consumer import BatchConsumer, consumer_options
from plumbing.kafka import ensure_topics, make_producer
from plumbing.lifecycle import stop_on_signals
from plumbing.ops import NOTIFIER_OPS_PORT, Health, consumer_probe, kafka_probe, redis_probe, serve_ops
from plumbing.settings import SettingsError
from schemas import (
    DEAD_LETTERS,
    ORDERS_STATUS,
    PERSONALIZATION_LINK_ACTIVITY,
    PERSONALIZATION_LINK_ISSUED,
    PERSONALIZATION_REQUESTED,
    utc_now,
)

log = logging.getLogger("notifier")

CONSUMES = (PERSONALIZATION_REQUESTED, ORDERS_STATUS)
PRODUCES = (PERSONALIZATION_LINK_ISSUED, PERSONALIZATION_LINK_ACTIVITY, DEAD_LETTERS)


async def run(
    settings: NotifierSettings, clock: Callable[[], datetime] = utc_now, stop: asyncio.Event | None = None
) -> None:
    stop = stop or stop_on_signals()
    config = load_config(settings.config)
    try:
        smtp = parse_smtp_url(
            settings.smtp_url,
            settings.smtp_username,
            settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        )
    except ValueError as error:
        raise SettingsError(str(error)) from None
    if settings.email_templates_dir and not settings.email_templates_dir.is_dir():
        raise SettingsError(f"PERSONALIZE_EMAIL_TEMPLATES_DIR: {settings.email_templates_dir} is not a directory")
    await ensure_topics(settings, CONSUMES + PRODUCES + HOOK_TOPICS)
    redis = Redis.from_url(settings.required_redis_url())
    producer = make_producer(settings)
    await producer.start()
    store = RedisLinkStore(redis)
    consumer = BatchConsumer(
        settings.required_bootstrap(),
        producer,
        NotifierHandler(store, clock),
        consumer_options(settings, settings.notifier_group, CONSUMES),
    )
    jobs = RedisHookJobs(redis)
    router = BatchConsumer(
        settings.required_bootstrap(),
        producer,
        HookRouter(config, jobs, clock),
        consumer_options(settings, settings.hooks_group, HOOK_TOPICS),
    )
    deliverer = HookDeliverer(config, jobs, clock)
    mailer = SmtpSender(smtp)
    outbox = Outbox(
        store, producer, mailer, EmailRenderer(settings.email_templates_dir), mail_from=settings.mail_from, clock=clock
    )
    scheduler = LinkScheduler(
        store,
        outbox,
        public_url=settings.public_url,
        link_ttl=settings.link_ttl,
        clock=clock,
        tick_s=settings.scheduler_tick.total_seconds(),
    )
    log.info(
        "notifier: links to %s, valid %s, mail via %s:%d, %d store(s)",
        settings.public_url,
        settings.link_ttl,
        smtp.host,
        smtp.port,
        len(config.stores),
    )
    health = Health().ready_when("redis", redis_probe(redis)).ready_when("kafka", kafka_probe(producer))
    health.ready_when("consumer", consumer_probe(consumer)).ready_when("hooks_consumer", consumer_probe(router))
    tasks = [
        health.watch(name, asyncio.create_task(c))
        for name, c in (
            ("consumer", consumer.run()),
            ("scheduler", scheduler.run(stop)),
            ("hooks_consumer", router.run()),
            ("hooks_deliverer", deliverer.run(stop)),
        )
    ]
    # PERSONALIZE_METRICS_PORT, the notifier's older setting, still names the port when it alone is set.
    ops_port = settings.ops_port if settings.ops_port is not None else settings.metrics_port or NOTIFIER_OPS_PORT
    ops = await serve_ops(health, settings.ops_host, ops_port)
    try:
        await stop.wait()
    finally:
        health.stopping = True
        consumer.stop()
        router.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ops.stop()
        await mailer.aclose()
        await producer.stop()
        await redis.aclose()
        log.info("notifier stopped")
