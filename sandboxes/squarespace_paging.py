"""How the Squarespace sandbox's orders listing is asked and paged (.../commerce-apis/retrieve-all-orders):
`modifiedAfter` and `modifiedBefore` together or not at all, never with `cursor`; the cursor is the window
and an offset, so it is dynamic, as documented."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

FULFILLMENT_STATUSES = {"PENDING", "FULFILLED", "CANCELED"}


def when(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def window(q: Any) -> tuple[datetime | None, datetime | None, str | None, int]:
    status = q.get("fulfillmentStatus")
    if status is not None and status not in FULFILLMENT_STATUSES:
        raise ValueError(f"fulfillmentStatus must be one of {sorted(FULFILLMENT_STATUSES)}")
    after, before, cursor = q.get("modifiedAfter"), q.get("modifiedBefore"), q.get("cursor")
    if cursor:
        if after or before:
            raise ValueError("a cursor cannot be combined with modifiedAfter/modifiedBefore")
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return (
            when(state["a"]) if state["a"] else None,
            when(state["b"]) if state["b"] else None,
            state["s"] or status,
            int(state["o"]),
        )
    if bool(after) != bool(before):
        raise ValueError("modifiedAfter and modifiedBefore must be given together")
    return (when(after) if after else None, when(before) if before else None, status, 0)


def cursor_of(after: datetime | None, before: datetime | None, status: str | None, offset: int) -> str:
    state = {
        "a": after.isoformat() if after else None,
        "b": before.isoformat() if before else None,
        "s": status,
        "o": offset,
    }
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
