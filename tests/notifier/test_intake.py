"""Taking in requests and status changes on the twin: a decision overtaken by another copy's write is made again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from notifier.intake import ATTEMPTS, ConflictError, record_request, record_status
from notifier.link_state import LinkState
from notifier.memory_store import MemoryLinkStore
from notifier.policy import RequestPlan
from notifier.store import NewLink, Recorded
from schemas import OrderStatus, OrderStatusChanged, PersonalizationRequested
from tests.notifier.helpers import held, issued, link_entry, request

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class Overtaken(MemoryLinkStore):
    """The twin, with another copy's write landing between the first read and the write decided on it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.between: Callable[[], Awaitable[object]] | None = None

    async def state(self, order_key: str) -> LinkState:
        read = await super().state(order_key)
        self.reads += 1
        if self.between is not None:
            between, self.between = self.between, None
            await between()
        return read


async def overtaken_by_an_issue() -> tuple[Overtaken, PersonalizationRequested]:
    """A pending order whose next read is overtaken by another copy issuing its first link."""
    store, wanted = Overtaken(), request(0, at=T0)
    link = issued(wanted, at=T0)
    await record_request(store, wanted, T0)
    fence = await held(store, wanted.order_key, T0)
    store.between = lambda: store.issue(
        wanted.order_key, 0, NewLink(link_entry(link), "sha", T0 + DAY, (), None), fence=fence
    )
    store.reads = 0
    return store, wanted


class AlwaysOvertaken(MemoryLinkStore):
    async def record_request(self, request: PersonalizationRequested, read: LinkState, plan: RequestPlan) -> Recorded:
        return Recorded.CONFLICT


async def test_changed_items_decided_before_a_link_went_out_are_decided_again_and_want_a_fresh_link():
    store, wanted = await overtaken_by_an_issue()
    change = request(0, number=wanted.order_number, trigger="items_changed", at=T0 + DAY)
    assert await record_request(store, change, T0 + DAY) is Recorded.RECORDED
    state = await store.state(wanted.order_key)
    assert store.reads == 3 and state.force and state.request == change  # two reads to decide, one to check


async def test_a_cancellation_decided_before_an_issue_forgets_the_new_link_too():
    store, wanted = await overtaken_by_an_issue()
    cancel = OrderStatusChanged(
        order_key=wanted.order_key,
        occurred_at=T0 + DAY,
        from_status=None,
        to_status=OrderStatus.CANCELLED,
        reason="test",
    )
    assert await record_status(store, cancel, T0 + DAY) is Recorded.RECORDED
    assert (await store.state(wanted.order_key)).outbox == ()  # no raw token left behind
    assert await store.timers.due_at(wanted.order_key) is None


async def test_an_order_that_changes_under_every_decision_is_an_error_not_a_loop():
    with pytest.raises(ConflictError, match=str(ATTEMPTS)):
        await record_request(AlwaysOvertaken(), request(0, at=T0), T0)
