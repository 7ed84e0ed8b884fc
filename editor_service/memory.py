"""In-memory twins of the editor's Redis stores (`claims.RedisClaims`, `state.EditorStore`).

The same answers, held in one process, with time read from an injected clock: one contract suite runs against
each twin and its Redis original (`tests/editor_service/test_claims.py`, `test_state.py`), so the mechanism and
the routes can be tested without a server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from editor_service.claims import Claim, Clock, supersedes
from editor_service.store import DRAFT_TTL_S, RATE_WINDOW_S, RETENTION_S, LinkView, Recorded
from schemas import OrderStatusChanged, PersonalizationLinkIssued, RequestedItem

V = TypeVar("V")


class Expiring(Generic[V]):
    """Values that are gone once their time to live has passed, as Redis keys with a TTL are."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._values: dict[str, tuple[V, float]] = {}

    def get(self, key: str) -> V | None:
        value, until = self._values.get(key, (None, 0.0))
        if value is not None and until <= self._clock():
            del self._values[key]
            return None
        return value

    def put(self, key: str, value: V, ttl_s: float) -> None:
        self._values[key] = (value, self._clock() + ttl_s)

    def update(self, key: str, value: V) -> None:
        """Change a value that is there, keeping when it goes (Redis `HSET` on a key with a TTL)."""
        self._values[key] = (value, self._values[key][1])


class MemoryClaims:
    def __init__(self, clock: Clock = time.time, retention_s: int = RETENTION_S) -> None:
        self._clock, self._retention_s = clock, retention_s
        self._claims: Expiring[Claim] = Expiring(clock)
        self._pending: dict[str, float] = {}  # key: when claimed
        self._leases: Expiring[bool] = Expiring(clock)

    async def claim(self, claim: Claim) -> bool:
        if not supersedes(claim, self._claims.get(claim.key)):
            return False
        self._claims.put(claim.key, replace(claim, published=False, failed=None), self._retention_s)
        self._pending[claim.key] = self._clock()
        return True

    async def held(self, key: str) -> Claim | None:
        return self._claims.get(key)

    async def mark_published(self, key: str, event_id: str) -> bool:
        held = self._claims.get(key)
        if held is None or held.event_id != event_id:
            return False
        self._claims.update(key, replace(held, published=True))
        self._pending.pop(key, None)
        return True

    async def set_aside(self, key: str, event_id: str, reason: str) -> bool:
        held = self._claims.get(key)
        if held is None or held.event_id != event_id:
            return False
        self._claims.update(key, replace(held, failed=reason))
        self._pending.pop(key, None)
        return True

    async def due(self, grace_s: float, limit: int = 100, offset: int = 0) -> list[Claim]:
        cutoff = self._clock() - grace_s
        listed = sorted((at, key) for key, at in self._pending.items() if at <= cutoff)[offset : offset + limit]
        claims = []
        for _, key in listed:
            held = self._claims.get(key)
            if held is None:
                del self._pending[key]
                continue
            claims.append(held)
        return claims

    async def lease(self, key: str, seconds: int) -> bool:
        if self._leases.get(key):
            return False
        self._leases.put(key, True, seconds)
        return True


@dataclass(frozen=True)
class _Order:
    seq: int | None = None  # the newest link's, with its items
    items: tuple[RequestedItem, ...] = ()
    status: str | None = None
    status_at: int | None = None  # µs


def _micros(moment: float) -> int:
    return int(moment * 1_000_000)


class MemoryEditorStore:
    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._links: Expiring[PersonalizationLinkIssued] = Expiring(clock)
        self._orders: Expiring[_Order] = Expiring(clock)
        self._drafts: Expiring[dict[str, str]] = Expiring(clock)
        self._counts: Expiring[int] = Expiring(clock)
        self.completions = MemoryClaims(clock)
        self.first_opens = MemoryClaims(clock)

    async def record_link(self, link: PersonalizationLinkIssued, token_sha256: str) -> None:
        self._links.put(token_sha256, link, RETENTION_S)
        order = self._orders.get(link.order_key) or _Order()
        if link.sequence >= (order.seq or 0):
            order = replace(order, seq=link.sequence, items=tuple(link.items))
        self._orders.put(link.order_key, order, RETENTION_S)

    async def record_status(self, change: OrderStatusChanged) -> Recorded:
        order = self._orders.get(change.order_key) or _Order()
        at = _micros(change.occurred_at.timestamp())
        if order.status_at is not None and at < order.status_at:
            return "stale"
        self._orders.put(change.order_key, replace(order, status=change.to_status.value, status_at=at), RETENTION_S)
        return "recorded"

    async def visit(
        self, token_sha256: str, rate_keys: list[str], window_s: int = RATE_WINDOW_S
    ) -> tuple[list[int], LinkView | None]:
        window = int(self._clock()) // window_s
        counts = []
        for key in rate_keys:
            count = (self._counts.get(f"{key}:{window}") or 0) + 1
            self._counts.put(f"{key}:{window}", count, window_s * 2)
            counts.append(count)
        return counts, await self.view(token_sha256)

    async def view(self, token_sha256: str) -> LinkView | None:
        link = self._links.get(token_sha256)
        if link is None:
            return None
        order = self._orders.get(link.order_key) or _Order()
        completed = await self.completions.held(link.order_key)
        return LinkView(
            order_key=link.order_key,
            link_id=link.link_id,
            sequence=link.sequence,
            expires=link.expires_at.timestamp(),
            order_number=link.order_number,
            is_test=link.is_test,
            items=list(order.items or link.items),
            latest_seq=link.sequence if order.seq is None else order.seq,
            status=order.status,
            completed_seq=completed.generation if completed else None,
            draft=dict(self._drafts.get(link.order_key) or {}),
            platform=link.platform,
            store_id=link.store_id,
            opened=await self.first_opens.held(link.link_id) is not None,
        )

    async def save_draft(self, order_key: str, values: dict[str, str]) -> None:
        self._drafts.put(order_key, dict(values), DRAFT_TTL_S)
