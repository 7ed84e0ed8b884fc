"""`personalize notifier`: consume requests and status changes, send links and reminders when due, deliver automation webhooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from notifier.automation import HOOK_TOPICS, HookRouter
from notifier.destinations import refused_url
from notifier.disconnections import start as start_disconnections
from notifier.handlers import NotifierHandler
from notifier.hook_delivery import HookDeliverer
from notifier.hook_jobs import RedisHookJobs
from notifier.mail import SmtpSender, SmtpTarget, parse_smtp_url
from notifier.outbox import Outbox
from notifier.redis_store import RedisLinkStore
from notifier.render import EmailRenderer
from notifier.scheduler import LinkScheduler
from notifier.set_aside import RedisSetAside
from notifier.settings import NotifierSettings
from notifier.verification import start as start_email_changes
from plumbing.config import Config, load_config
from plumbing.ops import NOTIFIER_OPS_PORT
from plumbing.service import Service
from plumbing.settings import SettingsError
from schemas import topics, utc_now

log = logging.getLogger("notifier")

CONSUMES = (topics.PERSONALIZATION_REQUESTED, topics.ORDERS_STATUS)
PRODUCES = (topics.PERSONALIZATION_LINK_ISSUED, topics.PERSONALIZATION_LINK_ACTIVITY, topics.DEAD_LETTERS)


async def run(
    settings: NotifierSettings, clock: Callable[[], datetime] = utc_now, stop: asyncio.Event | None = None
) -> None:
    config = load_config(settings.required_config())
    _check_hooks(config, settings.hooks_allow_local)
    smtp = _mail_server(settings)
    async with Service("notifier", settings, CONSUMES + PRODUCES + HOOK_TOPICS, log, stop=stop) as notifier:
        store = RedisLinkStore(notifier.redis)
        parked = RedisSetAside(notifier.redis)
        consumer = notifier.consumer("consumer", NotifierHandler(store, clock), settings.notifier_group, CONSUMES)
        jobs = RedisHookJobs(notifier.redis)
        router = notifier.consumer("hooks_consumer", HookRouter(config, jobs, clock), settings.hooks_group, HOOK_TOPICS)
        deliverer = HookDeliverer(config, jobs, clock, parked, allow_local=settings.hooks_allow_local)
        mailer = SmtpSender(smtp)
        notifier.closes(mailer.aclose)
        outbox = Outbox(
            store,
            notifier.producer,
            mailer,
            EmailRenderer(settings.email_templates_dir),
            mail_from=settings.mail_from,
            clock=clock,
        )
        scheduler = LinkScheduler(
            store,
            outbox,
            public_url=settings.public_url,
            link_ttl=settings.link_ttl,
            clock=clock,
            set_aside=parked,
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
        notifier.watch("consumer", consumer.run())
        notifier.watch("scheduler", scheduler.run(notifier.stop))
        notifier.watch("hooks_consumer", router.run())
        notifier.watch("hooks_deliverer", deliverer.run(notifier.stop))
        await start_email_changes(notifier, settings, mailer, clock)
        await start_disconnections(notifier, settings, mailer)
        # PERSONALIZE_METRICS_PORT, the notifier's older setting, still names the port when it alone is set.
        await notifier.serve_ops(settings.metrics_port or NOTIFIER_OPS_PORT)
        await notifier.run()


def _check_hooks(config: Config, allow_local: bool) -> None:
    """Every automation endpoint one the notifier will call: a plain http one stops the start, named without its URL."""
    for i, store in enumerate(config.stores):
        for j, hook in enumerate(store.webhooks):
            refused = refused_url(hook.url, allow_local)
            if refused:
                raise SettingsError(f"stores.{i}.webhooks.{j} ({store.key}): {refused}")


def _mail_server(settings: NotifierSettings) -> SmtpTarget:
    """Where the mail goes, with the templates folder checked too: a wrong setting stops the start, naming it."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    try:
        smtp = parse_smtp_url(settings.smtp_url, settings.smtp_username, password)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    if settings.email_templates_dir and not settings.email_templates_dir.is_dir():
        raise SettingsError(f"PERSONALIZE_EMAIL_TEMPLATES_DIR: {settings.email_templates_dir} is not a directory")
    return smtp
