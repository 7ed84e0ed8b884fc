"""`PersonalizationLinkOpened`: the first open of a link, published exactly once, at least once (`once.py`).

Concurrent first opens (two tabs, two editor copies) race on the claim and one wins; a later open, or an open
after a restart, finds the claim and reports nothing. A publish that fails or never returns leaves the event
listed for the `Republisher`, which sends it again with the same `event_id`. The page does not wait longer than
`PUBLISH_WAIT_S` for the broker: the claim already guarantees the event.
"""

from __future__ import annotations

from datetime import datetime

from aiokafka import AIOKafkaProducer

from editor_service.metrics import LINKS_OPENED, OPENED_REPUBLISHED
from editor_service.once import OncePerKey, Outcome
from editor_service.store import EditorState, LinkView
from schemas import PersonalizationLinkOpened

PUBLISH_WAIT_S = 3.0

FIRST_OPEN = OncePerKey(
    PersonalizationLinkOpened,
    lambda e: e.link_id,
    "the first open of link {0.link_id} ({0.order_key})",
    OPENED_REPUBLISHED,
)


def opened_event(view: LinkView, now: datetime) -> PersonalizationLinkOpened:
    return PersonalizationLinkOpened(
        order_key=view.order_key,
        occurred_at=now,
        link_id=view.link_id,
        sequence=view.sequence,
        store_id=view.store_id,
        platform=view.platform,
        order_number=view.order_number,
        is_test=view.is_test,
    )


async def report_first_open(store: EditorState, producer: AIOKafkaProducer, view: LinkView, now: datetime) -> bool:
    """Claim, publish, mark; False when this link's first open was already claimed."""
    outcome = await FIRST_OPEN.publish(store.first_opens, producer, opened_event(view, now), PUBLISH_WAIT_S)
    if outcome is Outcome.DUPLICATE:
        return False
    LINKS_OPENED.labels(outcome.value).inc()
    return True
