"""The reconciling poll against the real broker and Redis, with a WooCommerce sandbox served in-process
(`tests/connectors/poll_shop.py`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from connectors.budget import Quota, RateBudget
from connectors.client import PlatformClient, RetryableError
from connectors.copies import phase
from connectors.intake import Intake
from connectors.poller import StorePoller
from sandboxes.base import Faults
from schemas import OrderReceived, OrderUpdated
from tests.connectors.poll_shop import ATTEMPTS, LOOKBACK, Shop, Topic, asked, make_shop, modified, shop, topic

__all__ = ["make_shop", "shop", "topic"]  # fixtures, used by name


class CrashingIntake:
    """Publishes the first page, then dies halfway through the second: part published, cursor not moved."""

    def __init__(self, real: Intake, published_of_second: int) -> None:
        self._real, self._partial, self.pages = real, published_of_second, 0

    async def accept(self, store, raws, source):
        self.pages += 1
        if self.pages == 1:
            return await self._real.accept(store, raws, source)
        await self._real.accept(store, raws[: self._partial], source)
        raise RuntimeError("connector killed mid-page")


async def test_a_crash_mid_page_loses_nothing_and_publishes_nothing_twice(make_shop, topic: Topic):
    shop = make_shop(lookback=timedelta(seconds=10))  # orders are placed one second apart
    placed = shop.place(250)  # three pages: 100, 100, 50
    crashing = CrashingIntake(shop.intake, published_of_second=40)

    with pytest.raises(RuntimeError, match="mid-page"):
        await shop.poller(crashing).poll_once()
    assert await shop.cursor.get() == modified(placed[99])  # the first page's newest, not a line further
    assert len(await topic.events_for(shop.store)) == 140

    assert await shop.poller().poll_once() == 10 + 150  # from cursor - lookback: page 1's last ten, then the rest
    assert shop.transport.modified_after[-1] == asked(modified(placed[99]) - timedelta(seconds=10))
    assert await shop.cursor.get() == modified(placed[-1])

    events = await topic.events_for(shop.store)
    assert all(isinstance(e, OrderReceived) for e in events)
    published = Counter(e.platform_order_id for e in events)
    assert set(published) == {str(raw["id"]) for raw in placed}
    assert [order for order, times in published.items() if times > 1] == []


async def test_the_next_poll_starts_at_the_cursor_minus_the_lookback(shop: Shop, topic: Topic):
    first = shop.place(3)
    await shop.poller().poll_once()
    assert shop.transport.modified_after == [asked(shop.store.start_from - LOOKBACK)]
    assert await shop.cursor.get() == modified(first[-1])

    await shop.poller().poll_once()  # everything re-read is unchanged: nothing new, the cursor stays
    assert shop.transport.modified_after[-1] == asked(modified(first[-1]) - LOOKBACK)
    assert await shop.cursor.get() == modified(first[-1])

    later = shop.place(2)
    await shop.poller().poll_once()
    assert await shop.cursor.get() == modified(later[-1])
    assert len(await topic.events_for(shop.store)) == 5


async def test_the_cursor_only_moves_forward(shop: Shop):
    orders = shop.place(3)
    ahead = modified(orders[-1]) + timedelta(minutes=2)
    await shop.cursor.advance(ahead)  # a previous poll got further (an order since trashed, say)

    assert await shop.poller().poll_once() == 3  # the lookback re-reads all three, each older than the cursor
    assert shop.transport.modified_after == [asked(ahead - LOOKBACK)]
    assert await shop.cursor.get() == ahead


async def test_a_failed_poll_leaves_the_cursor_where_it_was(shop: Shop, topic: Topic):
    before = shop.place(2)
    await shop.poller().poll_once()
    cursor = await shop.cursor.get()
    shop.place(3)
    shop.state.faults = Faults(server_error=ATTEMPTS + 2)
    calls = shop.state.api_calls

    with pytest.raises(RetryableError):
        await shop.poller().poll_once()
    assert shop.state.api_calls - calls == ATTEMPTS
    assert await shop.cursor.get() == cursor
    assert len(await topic.events_for(shop.store)) == len(before)

    await shop.poller().poll_once()  # the platform recovers after two more errors: the poll catches up
    assert await shop.cursor.get() > cursor
    events = await topic.events_for(shop.store)
    assert len(events) == 5 and not any(isinstance(e, OrderUpdated) for e in events)


async def run_for(pollers: list[StorePoller], seconds: float) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in pollers]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)


async def test_copies_of_a_connector_take_turns_polling_a_store(shop: Shop):
    """Three copies spend about one copy's API calls; whoever asks first in an interval polls."""
    shop.store = shop.store.model_copy(update={"poll_interval": timedelta(milliseconds=300)})
    await run_for([shop.poller()], 1.5)
    alone = len(shop.transport.modified_after)
    shop.transport.modified_after.clear()
    await asyncio.sleep(0.3)  # the lone copy's last turn runs out
    await run_for([shop.poller(), shop.poller(), shop.poller()], 1.5)
    together = len(shop.transport.modified_after)

    assert alone >= 4  # a lone copy polls every interval: its turn is always free by its next one
    # At most one poll in any 240 ms (the turn): 1.5 s holds 7 turns at most, and three copies without turns
    # would poll about three times as often as one.
    assert 1 <= together <= 7 and together < 2 * alone


async def test_a_turn_is_taken_once_and_free_again_when_it_runs_out(shop: Shop):
    interval = timedelta(milliseconds=200)
    assert await shop.cursor.take_turn(interval)
    assert not await shop.cursor.take_turn(interval)  # another copy asking in the same interval
    await asyncio.sleep(0.2)
    assert await shop.cursor.take_turn(interval)


async def test_only_the_copy_that_owns_a_store_polls_it_and_a_store_never_polled_is_polled_at_once(shop: Shop):
    shop.store = shop.store.model_copy(update={"poll_interval": timedelta(seconds=30)})
    await run_for([shop.poller(owns=lambda key: False)], 0.5)
    assert shop.transport.modified_after == []  # not this copy's: not even the first poll
    await run_for([shop.poller()], 0.5)
    assert len(shop.transport.modified_after) == 1  # never polled: at once, not at its moment up to 30 s away
    just_past_its_moment = phase(shop.store.key) * 30 + 1.0
    await run_for([shop.poller(wall_clock=lambda: just_past_its_moment)], 0.5)
    assert len(shop.transport.modified_after) == 1  # polled before: it waits for its moment, 29 s away


async def test_a_poll_the_quota_had_no_room_for_gives_its_turn_back(shop: Shop):
    budget = RateBudget(shop.redis, "woocommerce", Quota(per_second=1, burst=1, per_app=False))
    scope = budget.scope(shop.store)
    await shop.redis.set(budget.key(scope) + ":block", b"1", px=60_000)  # as after the day's quota ran out
    shop.api = PlatformClient(
        "woocommerce", "https://woo.sandbox", transport=shop.transport, budget=budget, budget_id=scope
    )
    shop.store = shop.store.model_copy(update={"poll_interval": timedelta(seconds=30)})
    await run_for([shop.poller()], 0.5)
    assert shop.transport.modified_after == []  # nothing asked of the platform
    assert await shop.cursor.get() is None
    assert await shop.cursor.take_turn(timedelta(seconds=30))  # the turn is free: the store's next slot polls
