"""Automation webhooks: each store's chosen events POSTed to its endpoints, signed per Standard Webhooks.

Separate from emails on purpose: its own consumer group and its own worker,
so a slow or failing endpoint never delays a merchant's email. Deliveries are
jobs (`notifier/hook_jobs.py`: a key each + a due queue in Redis), created once per
event and endpoint (a redelivered event finds its job already there) and
retried with backoff for about a day, then given up, logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from prometheus_client import Counter
from standardwebhooks.webhooks import Webhook

from notifier.hook_jobs import HookJob, HookJobStore
from plumbing.config import Config, OutboundWebhook
from plumbing.consumer import Outcome, Received
from schemas import EVENTS_BY_TOPIC, INTERNAL_TOPICS, Event

log = logging.getLogger(__name__)

HOOK_TOPICS = tuple(topic for topic in EVENTS_BY_TOPIC if topic not in INTERNAL_TOPICS)
RETRY_AFTER_S = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200)
LEASE_S = 30.0
TIMEOUT_S = 10.0
DELIVERIES = Counter("notifier_webhook_deliveries_total", "Automation webhook deliveries, by result", ["result"])


def store_of(event: Event) -> tuple[str, str]:
    platform, store_id, _ = event.order_key.split(":", 2)
    return platform, store_id


class HookRouter:
    """Consumer handler: turns each event into one job per endpoint that chose its type."""

    def __init__(self, config: Config, jobs: HookJobStore, clock: Callable[[], datetime]) -> None:
        self._config, self._jobs, self._clock = config, jobs, clock

    async def __call__(self, batch: list[Received]) -> Outcome:
        for item in batch:
            event = item.event
            store = self._config.store(*store_of(event))
            if store is None:
                continue
            for index, hook in enumerate(store.webhooks):
                if event.event_type in hook.events:
                    job = HookJob(store=store.key, hook=index, event_id=event.event_id, body=event.model_dump_json())
                    await self._jobs.add(f"{event.event_id}:{index}", job, self._clock())
        return Outcome()


class HookDeliverer:
    def __init__(
        self,
        config: Config,
        jobs: HookJobStore,
        clock: Callable[[], datetime],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config, self._jobs, self._clock = config, jobs, clock
        self._http = httpx.AsyncClient(timeout=TIMEOUT_S, transport=transport, follow_redirects=False)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    due = await self._jobs.due.claim(self._clock(), LEASE_S)
                    await asyncio.gather(*(self.deliver(job_id) for job_id in due))
                except Exception:  # Redis away: the claims come due again
                    log.exception("webhook delivery pass failed")
                    due = []
                if not due:
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=0.5)
                    except TimeoutError:
                        pass
        finally:
            await self._http.aclose()

    async def deliver(self, job_id: str) -> None:
        job = await self._jobs.get(job_id)
        hook = self._hook_of(job) if job else None
        if job is None or hook is None:
            await self._jobs.finish(job_id)  # gone from the config since: nothing to deliver to
            return
        now = self._clock()
        ok, why = await self._post(hook, job, now)
        if ok:
            DELIVERIES.labels("delivered").inc()
            await self._jobs.finish(job_id)
            return
        attempts = job.attempts + 1
        if attempts > len(RETRY_AFTER_S):
            DELIVERIES.labels("gave_up").inc()
            log.error("gave up delivering %s to %s after %d attempts (%s)", job.event_id, hook.url, attempts, why)
            await self._jobs.finish(job_id)
            return
        DELIVERIES.labels("retry").inc()
        delay = RETRY_AFTER_S[attempts - 1]
        log.warning("webhook %s to %s failed (%s); attempt %d in %ds", job.event_id, hook.url, why, attempts + 1, delay)
        await self._jobs.retry(job_id, job.model_copy(update={"attempts": attempts}), now + timedelta(seconds=delay))

    def _hook_of(self, job: HookJob) -> OutboundWebhook | None:
        platform, _, store_id = job.store.partition(":")
        store = self._config.store(platform, store_id)
        return store.webhooks[job.hook] if store is not None and job.hook < len(store.webhooks) else None

    async def _post(self, hook: OutboundWebhook, job: HookJob, now: datetime) -> tuple[bool, str]:
        signature = Webhook(hook.secret).sign(job.event_id, now, job.body)
        headers = {
            "webhook-id": job.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
            "content-type": "application/json",
            "user-agent": "personalize-webhooks/1",
        }
        try:
            response = await self._http.post(hook.url, content=job.body.encode(), headers=headers)
        except httpx.HTTPError as error:
            return False, f"{type(error).__name__}"
        return response.is_success, f"HTTP {response.status_code}"
