"""One completion per order and link generation, published at least once (`once.py`).

A second submission (two tabs, a retried POST, another editor copy) finds the claim and publishes nothing;
a completion the broker did not acknowledge is sent again by the `Republisher` (`republisher.py`) with the same `event_id` (core
dedupes on it, and a second completion of an order no longer pending changes nothing). The customer is thanked
once the claim is written: their input is durable from then on.
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from editor_service import republisher
from editor_service.metrics import COMPLETIONS, REPUBLISHED
from editor_service.once import OncePerKey, Outcome
from editor_service.opened import FIRST_OPEN
from editor_service.store import EditorState
from schemas import Asset, CompletedItem, PersonalizationCompleted, RequestedItem, encode

PUBLISH_TIMEOUT_S = 10.0
# What one completion may weigh encoded: checked before the customer is thanked, as a larger one could never be
# published (a broker takes 1 MB a record by default). A usual completion is a few KB; 256 KiB is 100 lines of
# 500-character texts with room to spare.
COMPLETION_MAX_BYTES = 256 * 1024

COMPLETION = OncePerKey(
    PersonalizationCompleted, lambda e: e.order_key, "completion {0.event_id} of {0.order_key}", REPUBLISHED
)


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


def oversized(event: PersonalizationCompleted, limit: int = COMPLETION_MAX_BYTES) -> bool:
    """Whether the event, as it would be published, is over the size any completion may have."""
    return len(encode(event)) > limit


async def complete(
    store: EditorState, producer: AIOKafkaProducer, event: PersonalizationCompleted, sequence: int
) -> bool:
    """Claim, publish, mark; False if another submission already completed this order for link `sequence`."""
    outcome = await COMPLETION.publish(store.completions, producer, event, PUBLISH_TIMEOUT_S, generation=sequence)
    COMPLETIONS.labels(outcome.value).inc()
    return outcome is not Outcome.DUPLICATE


class Republisher(republisher.Republisher):
    """Every editor copy's: completions and first opens whose publish was never acknowledged."""

    def __init__(
        self,
        store: EditorState,
        producer: AIOKafkaProducer,
        tick_s: float = republisher.REPUBLISH_TICK_S,
        grace_s: float = republisher.REPUBLISH_GRACE_S,
    ) -> None:
        super().__init__([(COMPLETION, store.completions), (FIRST_OPEN, store.first_opens)], producer, tick_s, grace_s)
