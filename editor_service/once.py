"""Publish an event exactly once per key, and at least once: claimed in a store, republished until acknowledged.

The order of steps is what makes it safe:
1. claim (atomic, `ClaimStore.claim`): the event itself is stored and listed as unpublished; a second attempt
   for the same key (two tabs, a retried POST, another editor copy, a restart) finds the claim and publishes
   nothing;
2. publish and wait for the broker's acknowledgement;
3. mark it published, which takes it off the list.
A crash or a broker outage between 1 and 3 leaves the event listed; the `Republisher` of any copy publishes it
again with the same `event_id` (consumers dedupe on it); one that can never be published is set aside there
(`republisher.py`). Once step 1 succeeded the caller may answer: the event is durable from then on. Completions
(`completion.py`) and first opens (`opened.py`) are the two kinds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

from editor_service.claims import Claim, ClaimStore
from plumbing.kafka import publish
from schemas import Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


class Outcome(StrEnum):
    PUBLISHED = "published"
    DEFERRED = "deferred"  # claimed, not acknowledged yet: the republisher sends it
    DUPLICATE = "duplicate"  # claimed before: nothing sent


@dataclass(frozen=True)
class OncePerKey(Generic[E]):
    """One kind of event, published once per key: its model, its key, how the logs name one, and the counter of
    its republished events. The claims it keeps are handed in, so each copy and each test brings its own store."""

    model: type[E]
    key_of: Callable[[E], str]
    described: str  # for the logs, formatted with the event: "completion {0.event_id} of {0.order_key}"
    republished: Counter

    async def publish(
        self, claims: ClaimStore, producer: AIOKafkaProducer, event: E, wait_s: float, generation: int | None = None
    ) -> Outcome:
        """Claim, publish, mark; waits `wait_s` at most for the broker, as the claim guarantees the event meanwhile."""
        if not await claims.claim(Claim(self.key_of(event), event.event_id, event.model_dump_json(), generation)):
            return Outcome.DUPLICATE
        try:
            await self._send(claims, producer, event, wait_s)
        except Exception:  # the claim holds the event; the republisher sends it
            log.exception("%s not published yet; the republisher retries it", self.described.format(event))
            return Outcome.DEFERRED
        log.info("%s published", self.described.format(event))
        return Outcome.PUBLISHED

    async def _send(self, claims: ClaimStore, producer: AIOKafkaProducer, event: E, wait_s: float) -> None:
        await asyncio.wait_for(publish(producer, [event]), wait_s)
        await claims.mark_published(self.key_of(event), event.event_id)
