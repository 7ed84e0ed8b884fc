"""One completion per order, published at least once.

The order of steps is what makes it safe:
1. claim in Redis (atomic, `EditorStore.claim`): the completion event itself
   is stored with `published = 0` and listed in `editor:unpublished`; a second
   submission (two tabs, a retried POST, another editor copy) finds the claim
   and publishes nothing;
2. publish and wait for the broker's acknowledgement;
3. mark it published.
A crash or a broker outage between 1 and 3 leaves the event listed; the
`Republisher` of any editor copy publishes it again with the same `event_id`
(core dedupes on it, and a second completion of an order no longer pending
changes nothing). The customer is thanked once step 1 succeeds: their input
is durable from then on.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaProducer

from editor_service.metrics import COMPLETIONS, OPENED_REPUBLISHED, REPUBLISHED
from editor_service.state import EditorStore
from plumbing.kafka import publish
from schemas import Asset, CompletedItem, PersonalizationCompleted, RequestedItem

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 10.0
REPUBLISH_GRACE_S = 15.0  # longer than a request's own publish may take, so the two rarely overlap
REPUBLISH_TICK_S = 5.0


def completion_event(
    order_key: str, items: list[RequestedItem], values: dict[str, str], assets: dict[str, Asset]
) -> PersonalizationCompleted:
    """The event for every line: each field's value (an image's asset uri), empty optional fields left out."""
    completed = []
    for item in items:
        fields, files = {}, []
        for spec in item.template.fields:
            key = f"{item.line_id}:{spec.name}"
            if key in assets:
                fields[spec.name] = assets[key].uri
                files.append(assets[key])
            elif values.get(key):
                fields[spec.name] = values[key]
        completed.append(CompletedItem(line_id=item.line_id, fields=fields, assets=files))
    return PersonalizationCompleted(order_key=order_key, items=completed)


async def complete(
    store: EditorStore, producer: AIOKafkaProducer, event: PersonalizationCompleted, sequence: int
) -> bool:
    """Claim, publish, mark; False if another submission already completed this order."""
    if not await store.claim(event, sequence):
        COMPLETIONS.labels("duplicate").inc()
        return False
    try:
        await asyncio.wait_for(publish(producer, [event]), PUBLISH_TIMEOUT_S)
        await store.mark_published(event)
        COMPLETIONS.labels("published").inc()
        log.info("completion %s of %s published", event.event_id, event.order_key)
    except Exception:
        COMPLETIONS.labels("deferred").inc()
        log.exception(
            "completion %s of %s not published yet; the republisher retries it", event.event_id, event.order_key
        )
    return True


class Republisher:
    """Publishes claimed completions and first opens whose publish was never acknowledged (at start, then every
    few seconds)."""

    def __init__(
        self,
        store: EditorStore,
        producer: AIOKafkaProducer,
        tick_s: float = REPUBLISH_TICK_S,
        grace_s: float = REPUBLISH_GRACE_S,
    ) -> None:
        self._store, self._producer, self._tick, self._grace = store, producer, tick_s, grace_s

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.once()
            except Exception:
                log.exception("republishing completions failed; retrying in %.0fs", self._tick)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._tick)
            except TimeoutError:
                pass

    async def once(self) -> int:
        sent = 0
        for event in await self._store.unpublished(time.time() - self._grace):
            if not await self._store.lease(event.order_key, max(1, int(self._grace))):
                continue
            await asyncio.wait_for(publish(self._producer, [event]), PUBLISH_TIMEOUT_S)
            await self._store.mark_published(event)
            REPUBLISHED.inc()
            sent += 1
            log.info("republished completion %s of %s", event.event_id, event.order_key)
        for opened in await self._store.unpublished_opened(time.time() - self._grace):
            if not await self._store.lease(f"opened:{opened.link_id}", max(1, int(self._grace))):
                continue
            await asyncio.wait_for(publish(self._producer, [opened]), PUBLISH_TIMEOUT_S)
            await self._store.mark_opened_published(opened)
            OPENED_REPUBLISHED.inc()
            sent += 1
            log.info("republished the first open of link %s (%s)", opened.link_id, opened.order_key)
        return sent
