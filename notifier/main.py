"""`personalize notifier`: consume requests and status changes, send links when due, deliver automation webhooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from prometheus_client import start_http_server
from redis.asyncio import Redis

from notifier.automation import HOOK_TOPICS, HookDeliverer, HookJobs, HookRouter
from notifier.handlers import NotifierHandler
from notifier.mail import SmtpSender, parse_smtp_url
from notifier.scheduler import LinkScheduler
from notifier.settings import NotifierSettings
from notifier.state import NotifierStore
from personalize.config import load_config
from personalize.consumer import BatchConsumer, consumer_options
from personalize.kafka import ensure_topics, make_producer
from personalize.lifecycle import stop_on_signals
from personalize.settings import SettingsError
from schemas import DEAD_LETTERS, ORDERS_STATUS, PERSONALIZATION_LINK_ISSUED, PERSONALIZATION_REQUESTED, utc_now

log = logging.getLogger("notifier")

CONSUMES = (PERSONALIZATION_REQUESTED, ORDERS_STATUS)
PRODUCES = (PERSONALIZATION_LINK_ISSUED, DEAD_LETTERS)


async def run(settings: NotifierSettings, clock: Callable[[], datetime] = utc_now,
              stop: asyncio.Event | None = None) -> None:
    config = load_config(settings.config)
    try:
        smtp = parse_smtp_url(settings.smtp_url, settings.smtp_username,
                              settings.smtp_password.get_secret_value() if settings.smtp_password else None)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    await ensure_topics(settings, CONSUMES + PRODUCES + HOOK_TOPICS)
    redis = Redis.from_url(settings.required_redis_url())
    producer = make_producer(settings)
    await producer.start()
    store = NotifierStore(redis)
    consumer = BatchConsumer(settings.required_bootstrap(), producer, NotifierHandler(store, clock),
                             consumer_options(settings, settings.notifier_group, CONSUMES))
    jobs = HookJobs(redis)
    router = BatchConsumer(settings.required_bootstrap(), producer, HookRouter(config, jobs, clock),
                           consumer_options(settings, settings.hooks_group, HOOK_TOPICS))
    deliverer = HookDeliverer(config, jobs, clock)
    mailer = SmtpSender(smtp)
    scheduler = LinkScheduler(store, producer, mailer, public_url=settings.public_url,
                              link_ttl=settings.link_ttl, mail_from=settings.mail_from, clock=clock,
                              tick_s=settings.scheduler_tick.total_seconds())
    stop = stop or stop_on_signals()
    log.info("notifier: links to %s, valid %s, mail via %s:%d, %d store(s)", settings.public_url, settings.link_ttl,
             smtp.host, smtp.port, len(config.stores))
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="127.0.0.1")
    tasks = [asyncio.create_task(c) for c in (consumer.run(), scheduler.run(stop), router.run(), deliverer.run(stop))]
    try:
        await stop.wait()
    finally:
        consumer.stop()
        router.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await mailer.aclose()
        await producer.stop()
        await redis.aclose()
        log.info("notifier stopped")
