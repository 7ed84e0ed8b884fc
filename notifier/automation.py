"""Automation webhooks: each store's chosen events POSTed to its endpoints, signed per Standard Webhooks.

Separate from emails on purpose: its own consumer group and its own worker,
so a slow or failing endpoint never delays a merchant's email. Deliveries are
jobs in Redis (`notifier:hooks:job:<id>` + a due queue), created once per
event and endpoint (a redelivered event finds its job already there) and
retried with backoff for about a day, then given up, logged and counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from prometheus_client import Counter
from redis.asyncio import Redis
from standardwebhooks.webhooks import Webhook

from notifier.due import DueQueue
from plumbing.config import Config
from plumbing.consumer import Outcome, Received
from schemas import DEAD_LETTERS, EVENTS_BY_TOPIC, Event

log = logging.getLogger(__name__)

HOOK_TOPICS = tuple(topic for topic in EVENTS_BY_TOPIC if topic != DEAD_LETTERS)
RETRY_AFTER_S = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200)
LEASE_S = 30.0
TIMEOUT_S = 10.0
DELIVERIES = Counter("notifier_webhook_deliveries_total", "Automation webhook deliveries, by result", ["result"])


def store_of(event: Event) -> tuple[str, str]:
    platform, store_id, _ = event.order_key.split(":", 2)
    return platform, store_id


class HookJobs:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.due = DueQueue(redis, "notifier:hooks:due")

    @staticmethod
    def _key(job_id: str) -> str:
        return f"notifier:hooks:job:{job_id}"

    async def add(self, job_id: str, job: dict, now: datetime) -> None:
        if await self._redis.set(self._key(job_id), json.dumps(job), nx=True, ex=3 * 86400):
            await self.due.schedule(job_id, now)

    async def get(self, job_id: str) -> dict | None:
        raw = await self._redis.get(self._key(job_id))
        return json.loads(raw) if raw else None

    async def finish(self, job_id: str) -> None:
        await self._redis.delete(self._key(job_id))
        await self.due.remove(job_id)

    async def retry(self, job_id: str, job: dict, when: datetime) -> None:
        await self._redis.set(self._key(job_id), json.dumps(job), keepttl=True)
        await self.due.schedule(job_id, when)


class HookRouter:
    """Consumer handler: turns each event into one job per endpoint that chose its type."""

    def __init__(self, config: Config, jobs: HookJobs, clock: Callable[[], datetime]) -> None:
        self._config, self._jobs, self._clock = config, jobs, clock

    async def __call__(self, batch: list[Received]) -> Outcome:
        for item in batch:
            event = item.event
            store = self._config.store(*store_of(event))
            for index, hook in enumerate(store.webhooks if store else []):
                if event.event_type in hook.events:
                    job = {"store": store.key, "hook": index, "event_id": event.event_id, "attempts": 0,
                           "body": event.model_dump_json()}
                    await self._jobs.add(f"{event.event_id}:{index}", job, self._clock())
        return Outcome()


class HookDeliverer:
    def __init__(self, config: Config, jobs: HookJobs, clock: Callable[[], datetime],
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config, self._jobs, self._clock = config, jobs, clock
        self._http = httpx.AsyncClient(timeout=TIMEOUT_S, transport=transport, follow_redirects=False)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    due = await self._jobs.due.claim(self._clock(), LEASE_S)
                    await asyncio.gather(*(self.deliver(job_id) for job_id in due))
                except Exception:  # noqa: BLE001 - Redis away: the claims come due again
                    log.exception("webhook delivery pass failed")
                    due = []
                if not due:
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=0.5)
                    except asyncio.TimeoutError:
                        pass
        finally:
            await self._http.aclose()

    async def deliver(self, job_id: str) -> None:
        job = await self._jobs.get(job_id)
        platform, _, store_id = (job or {}).get("store", "::").partition(":")
        store = self._config.store(platform, store_id) if job else None
        if job is None or store is None or job["hook"] >= len(store.webhooks):
            await self._jobs.finish(job_id)  # gone from the config since: nothing to deliver to
            return
        hook = store.webhooks[job["hook"]]
        now = self._clock()
        body = job["body"]
        signature = Webhook(hook.secret).sign(job["event_id"], now, body)
        headers = {"webhook-id": job["event_id"], "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": signature, "content-type": "application/json",
                   "user-agent": "personalize-webhooks/1"}
        try:
            response = await self._http.post(hook.url, content=body.encode(), headers=headers)
            ok, why = response.is_success, f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            ok, why = False, f"{type(error).__name__}"
        if ok:
            DELIVERIES.labels("delivered").inc()
            await self._jobs.finish(job_id)
            return
        attempts = job["attempts"] + 1
        if attempts > len(RETRY_AFTER_S):
            DELIVERIES.labels("gave_up").inc()
            log.error("gave up delivering %s to %s after %d attempts (%s)", job["event_id"], hook.url, attempts, why)
            await self._jobs.finish(job_id)
            return
        DELIVERIES.labels("retry").inc()
        delay = RETRY_AFTER_S[attempts - 1]
        log.warning("webhook %s to %s failed (%s); attempt %d in %ds", job["event_id"], hook.url, why, attempts + 1, delay)
        await self._jobs.retry(job_id, {**job, "attempts": attempts}, now + timedelta(seconds=delay))
