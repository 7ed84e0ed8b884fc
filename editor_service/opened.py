"""`PersonalizationLinkOpened`: the first open of a link, published exactly once, at least once.

The same steps as a completion (`completion.py`): claim in Redis (atomic; the claim holds the event),
publish and wait for the broker, mark it published. Concurrent first opens (two tabs, two editor copies)
race on the claim and one wins; a later open, or an open after a restart, finds the claim and reports
nothing. A publish that fails or never returns leaves the event listed for the `Republisher`, which sends
it again with the same `event_id`. The page does not wait longer than `PUBLISH_WAIT_S` for the broker:
the claim already guarantees the event.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from aiokafka import AIOKafkaProducer

from editor_service.metrics import LINKS_OPENED
from editor_service.state import EditorStore, LinkView
from plumbing.kafka import publish
from schemas import PersonalizationLinkOpened

log = logging.getLogger(__name__)

PUBLISH_WAIT_S = 3.0


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


async def report_first_open(store: EditorStore, producer: AIOKafkaProducer, view: LinkView, now: datetime) -> bool:
    """Claim, publish, mark; False when this link's first open was already claimed."""
    event = opened_event(view, now)
    if not await store.claim_opened(event):
        return False
    try:
        await asyncio.wait_for(publish(producer, [event]), PUBLISH_WAIT_S)
        await store.mark_opened_published(event)
        LINKS_OPENED.labels("published").inc()
    except Exception:
        LINKS_OPENED.labels("deferred").inc()
        log.exception(
            "opened event of link %s (%s) not published yet; the republisher retries it", view.link_id, view.order_key
        )
    return True
