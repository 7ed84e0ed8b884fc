"""The editor's consumer: issued links and status changes become its own Redis state."""

from __future__ import annotations

import logging

from editor_service.store import EditorState
from plumbing.consumer import Outcome, Received
from plumbing.links import token_hash, token_of
from plumbing.logs import event_fields
from schemas import OrderStatusChanged, PersonalizationLinkIssued

log = logging.getLogger(__name__)


class EditorHandler:
    def __init__(self, store: EditorState) -> None:
        self._store = store

    async def __call__(self, batch: list[Received]) -> Outcome:
        """Record each link by its token's hash and each status by `occurred_at`; both are idempotent."""
        for item in batch:
            event = item.event
            if isinstance(event, PersonalizationLinkIssued):
                await self._store.record_link(event, token_hash(token_of(event.url)))
                log.info(
                    "link %d (%s) of %s recorded",
                    event.sequence,
                    event.link_id,
                    event.order_key,
                    extra=event_fields(event),
                )
            elif isinstance(event, OrderStatusChanged):
                await self._store.record_status(event)
        return Outcome()
