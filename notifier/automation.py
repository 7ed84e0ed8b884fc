"""Automation webhooks: each store's chosen events POSTed to its endpoints, signed per Standard Webhooks.

Separate from emails on purpose: its own consumer group and its own worker
(`notifier/hook_delivery.py`), so a slow or failing endpoint never delays a
merchant's email. Deliveries are jobs (`notifier/hook_jobs.py`: a key each +
a due queue in Redis), created once per event and endpoint (a redelivered
event finds its job already there) and retried with backoff for about a day,
then given up, logged and counted. Where a job may go: `notifier/destinations.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prometheus_client import Counter

from notifier.hook_jobs import HookJob, HookJobStore
from plumbing.config import Config
from plumbing.consumer import Outcome, Received
from schemas import EVENTS_BY_TOPIC, INTERNAL_TOPICS, Event

HOOK_TOPICS = tuple(topic for topic in EVENTS_BY_TOPIC if topic not in INTERNAL_TOPICS)
DELIVERIES = Counter(
    "notifier_webhook_deliveries_total", "Automation webhook deliveries, by result", ["result"]
)  # delivered, retry, gave_up, refused


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
