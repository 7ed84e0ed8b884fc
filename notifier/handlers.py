"""The notifier's consumer: requests and status changes become link state and timers; nothing is sent here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from notifier.intake import record_request, record_status
from notifier.store import LinkStore
from plumbing.consumer import Outcome, Received
from plumbing.logs import event_fields
from schemas import OrderStatusChanged, PersonalizationRequested

log = logging.getLogger(__name__)


class NotifierHandler:
    def __init__(self, store: LinkStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self, batch: list[Received]) -> Outcome:
        for item in batch:
            event = item.event
            if isinstance(event, PersonalizationRequested):
                result = await record_request(self._store, event, self._clock())
                log.info(
                    "request %s for %s (%s, due %s): %s",
                    event.event_id,
                    event.order_key,
                    event.trigger,
                    event.notify_after.isoformat(),
                    result,
                    extra=event_fields(event),
                )
            elif isinstance(event, OrderStatusChanged):
                await record_status(self._store, event, self._clock())
        return Outcome()
