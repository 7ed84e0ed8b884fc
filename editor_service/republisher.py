"""The republisher: every copy's pass, every few seconds, over the claims whose publish was never acknowledged.

Each claim is taken on its own, and none stops the pass:
- leased by another copy: left to it;
- published, then marked: off the list;
- refused for a reason that will not pass by waiting (the claim is not such an event, the event is too large for
  the broker, any error other than the broker or Redis being away): **set aside**: dead-lettered with the reason
  (`dead-letters`, partition and offset -1: it never reached a topic), logged, counted in
  `editor_claims_set_aside_total`, and taken off the list; the claim keeps the event and the reason;
- the broker or Redis away: left listed for a later pass.
A pass reads `PAGE` due claims of each kind, starting after the ones the previous pass left listed, and starts
again at the oldest once it reached the end: claims that keep failing cannot starve newer ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from editor_service.claims import Claim, ClaimStore
from editor_service.metrics import SET_ASIDE
from editor_service.once import OncePerKey
from plumbing.consumer import INFRASTRUCTURE_ERRORS
from plumbing.dead_letters import KEY_MAX_CHARS, brief, kept_raw, short
from plumbing.kafka import message_limit, publish
from schemas import DeadLetter
from schemas.topics import TOPIC_OF

log = logging.getLogger(__name__)

REPUBLISH_WAIT_S = 10.0
REPUBLISH_GRACE_S = 15.0  # longer than a request's own publish may take, so the two rarely overlap
REPUBLISH_TICK_S = 5.0
PAGE = 100
CONSUMER = "editor-republisher"


class Step(StrEnum):
    PUBLISHED = "published"
    LEFT = "left"  # still listed: a later pass tries again
    LEASED = "leased"  # another copy has it
    SET_ASIDE = "set_aside"


def never_publishable(error: BaseException) -> bool:
    """An error waiting will not cure: anything but the broker or Redis away; a too-large message is one too,
    though aiokafka files it under `KafkaError` (the broker's refusal and the producer's own check alike)."""
    return isinstance(error, MessageSizeTooLargeError) or not isinstance(error, INFRASTRUCTURE_ERRORS)


def dead_letter_of(kind: OncePerKey[Any], claim: Claim, reason: str, limit: int) -> DeadLetter:
    raw, cut = kept_raw(claim.event.encode(), limit)
    return DeadLetter(
        order_key=short(_order_key(claim), KEY_MAX_CHARS),
        source_topic=TOPIC_OF[kind.model],
        partition=-1,
        offset=-1,
        consumer=CONSUMER,
        error=short(reason) + cut,
        raw=raw,
    )


def _order_key(claim: Claim) -> str:
    """The event's order key, for the dead letter's partition; the claim's key if the claim is not an event."""
    try:
        found = json.loads(claim.event).get("order_key")
    except (ValueError, AttributeError):
        found = None
    return found if isinstance(found, str) and found else claim.key


class Republisher:
    """Publishes claimed events whose publish was never acknowledged (at start, then every `tick_s`)."""

    def __init__(
        self,
        kinds: Sequence[tuple[OncePerKey[Any], ClaimStore]],
        producer: AIOKafkaProducer,
        tick_s: float = REPUBLISH_TICK_S,
        grace_s: float = REPUBLISH_GRACE_S,
        page: int = PAGE,
    ) -> None:
        self._kinds, self._producer, self._tick, self._grace, self._page = kinds, producer, tick_s, grace_s, page
        self._offsets = [0] * len(kinds)  # per kind: where the next pass reads on

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.once()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._tick)
            except TimeoutError:
                pass

    async def once(self) -> int:
        """One pass over every kind; how many claims were published."""
        sent = 0
        for index, (kind, claims) in enumerate(self._kinds):
            try:
                sent += await self._pass(index, kind, claims)
            except Exception:  # Redis away listing them: the lists stay, the other kinds go on
                log.exception("republishing %s failed; retrying in %.0fs", kind.model.__name__, self._tick)
        return sent

    async def _pass(self, index: int, kind: OncePerKey[Any], claims: ClaimStore) -> int:
        offset = self._offsets[index]
        due = await claims.due(self._grace, self._page, offset)
        if not due and offset:  # past the end: start again at the oldest
            offset, due = 0, await claims.due(self._grace, self._page, 0)
        steps = [await self._one(kind, claims, claim) for claim in due]
        left = sum(step in (Step.LEFT, Step.LEASED) for step in steps)
        self._offsets[index] = offset + left if len(due) == self._page else 0
        return steps.count(Step.PUBLISHED)

    async def _one(self, kind: OncePerKey[Any], claims: ClaimStore, claim: Claim) -> Step:
        named = f"{kind.model.__name__} {claim.event_id} of {claim.key}"
        try:
            if not await claims.lease(claim.key, max(1, int(self._grace))):
                return Step.LEASED
            event = kind.model.model_validate_json(claim.event)
            await asyncio.wait_for(publish(self._producer, [event]), REPUBLISH_WAIT_S)
        except Exception as error:
            if never_publishable(error):
                return await self._set_aside(kind, claims, claim, error)
            log.warning("republishing %s failed (%s); retrying it later", named, brief(error) or type(error).__name__)
            return Step.LEFT
        try:
            await claims.mark_published(claim.key, claim.event_id)
        except Exception:  # sent: a later pass sends it again with the same event_id, and consumers dedupe
            log.exception("%s published but not marked; it will be sent again", named)
            return Step.LEFT
        kind.republished.inc()
        log.info("republished %s", kind.described.format(event))
        return Step.PUBLISHED

    async def _set_aside(self, kind: OncePerKey[Any], claims: ClaimStore, claim: Claim, error: Exception) -> Step:
        named = f"{kind.model.__name__} {claim.event_id} of {claim.key}"
        reason = f"never publishable: {type(error).__name__}: {brief(error)}"
        try:
            await asyncio.wait_for(
                publish(self._producer, [dead_letter_of(kind, claim, reason, message_limit(self._producer))]),
                REPUBLISH_WAIT_S,
            )
            await claims.set_aside(claim.key, claim.event_id, short(reason))
        except Exception:  # not dead-lettered yet: it stays listed, and the pass goes on past it
            log.exception("cannot set %s aside yet; retrying it later", named)
            return Step.LEFT
        SET_ASIDE.labels(kind.model.__name__).inc()
        log.error("%s set aside and dead-lettered: %s", named, reason)
        return Step.SET_ASIDE
