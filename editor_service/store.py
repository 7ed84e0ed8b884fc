"""The editor's state, as the routes and the consumer see it: the port, and what one page view reads.

Built from `personalization.link-issued` and `orders.status`, with two kinds of claim (`claims.py`):
- a link, by its token's SHA-256: the order key, link id, sequence, expiry, store, order number, test flag
  and items. Never the raw token, never the merchant's email;
- an order: its status and when it was set (an older status never overwrites a newer one), and the newest
  link's sequence and items: every live link shows the current items, so a completion always covers the
  lines core is waiting for;
- an order's draft: the field values saved as the customer types;
- `completions`: one `PersonalizationCompleted` per order and link generation: a completion answering
  sequence N stands against every link up to N; only a newer link (items changed, or core refused ours and
  the order is still pending) may complete again;
- `first_opens`: one `PersonalizationLinkOpened` per link.
Everything is kept `RETENTION_S` after its last write, drafts `DRAFT_TTL_S`. `state.EditorStore` keeps it
in Redis; `memory.MemoryEditorStore` is its in-memory twin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from editor_service.claims import ClaimStore
from schemas import OrderStatusChanged, PersonalizationLinkIssued, RequestedItem

RETENTION_S = 180 * 86400
DRAFT_TTL_S = 30 * 86400
RATE_WINDOW_S = 60
PP = "pending_personalization"

Recorded = Literal["recorded", "stale"]


@dataclass(frozen=True)
class LinkView:
    """What one page view needs, read in one round trip."""

    order_key: str
    link_id: str
    sequence: int
    expires: float
    order_number: str
    is_test: bool
    items: list[RequestedItem]
    latest_seq: int
    status: str | None
    completed_seq: int | None
    draft: dict[str, str]
    platform: str = ""
    store_id: str = ""
    opened: bool = False  # its first open is claimed (reported, or being reported)


class EditorState(Protocol):
    @property
    def completions(self) -> ClaimStore:
        """Keyed by order key; the generation is the sequence of the link the completion answered."""
        ...

    @property
    def first_opens(self) -> ClaimStore:
        """Keyed by link id."""
        ...

    async def record_link(self, link: PersonalizationLinkIssued, token_sha256: str) -> None: ...

    async def record_status(self, change: OrderStatusChanged) -> Recorded: ...

    async def visit(
        self, token_sha256: str, rate_keys: list[str], window_s: int = RATE_WINDOW_S
    ) -> tuple[list[int], LinkView | None]:
        """Count the request against each rate-limit key (fixed windows of `window_s`), then read the link."""
        ...

    async def view(self, token_sha256: str) -> LinkView | None: ...

    async def save_draft(self, order_key: str, values: dict[str, str]) -> None: ...
