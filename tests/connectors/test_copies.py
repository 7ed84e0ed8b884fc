"""Which connector copy polls which store (`connectors.copies`), against a real Redis: each store one owner, the
stores shared about evenly, a joining or leaving copy moving only its share, and polls spread over the interval."""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter

from connectors.copies import Copies, next_slot_in, phase
from tests.support import unique_id

STORES = [f"etsy:{n}" for n in range(3000)]


def owners(copies: list[Copies]) -> dict[str, str]:
    """Each store's owner, as every copy sees it: exactly one copy must claim each."""
    claimed: dict[str, str] = {}
    for store in STORES:
        [owner] = [c.copy_id for c in copies if c.owns(store)]
        claimed[store] = owner
    return claimed


async def test_every_store_has_one_owner_and_a_copy_joining_or_leaving_moves_only_its_share(redis) -> None:
    platform = "copies-" + unique_id()
    copies = [Copies(redis, platform, copy_id=f"copy-{n}") for n in range(3)]
    for copy in copies:
        await copy.beat()
    for copy in copies:
        await copy.beat()  # the first to beat saw only itself
    assert all(c.live == ("copy-0", "copy-1", "copy-2") for c in copies)
    before = owners(copies)
    shares = Counter(before.values())
    assert min(shares.values()) > 0.8 * len(STORES) / 3, shares

    joining = Copies(redis, platform, copy_id="copy-3")
    for copy in [joining, *copies]:
        await copy.beat()
    after = owners([*copies, joining])
    moved = {store for store in STORES if before[store] != after[store]}
    assert all(after[store] == "copy-3" for store in moved), "a join moves stores only to the newcomer"
    assert 0.15 * len(STORES) < len(moved) < 0.35 * len(STORES)

    await copies[0].leave()
    for copy in [joining, *copies[1:]]:
        await copy.beat()
    left = owners([*copies[1:], joining])
    assert {s for s in STORES if left[s] != after[s]} == {s for s in STORES if after[s] == "copy-0"}


async def test_a_copy_that_stops_beating_drops_out_when_its_time_runs_out(redis) -> None:
    platform, now = "copies-" + unique_id(), [1000.0]
    alive = Copies(redis, platform, copy_id="alive", ttl_s=15, clock=lambda: now[0])
    dead = Copies(redis, platform, copy_id="dead", ttl_s=15, clock=lambda: now[0])
    await dead.beat()
    assert await alive.beat() == ("alive", "dead")
    now[0] += 16  # "dead" never beats again
    assert await alive.beat() == ("alive",)
    assert all(alive.owns(store) for store in STORES[:100])


async def test_before_its_first_beat_a_copy_polls_every_store(redis) -> None:
    lone = Copies(redis, "copies-" + unique_id())
    assert lone.live == () and all(lone.owns(store) for store in STORES[:100])


async def test_a_copy_leaves_when_it_stops(redis) -> None:
    platform = "copies-" + unique_id()
    stopping, other = Copies(redis, platform, copy_id="a"), Copies(redis, platform, copy_id="b")
    stop = asyncio.Event()
    task = asyncio.create_task(stopping.run(stop))
    await asyncio.sleep(0.05)
    assert "a" in await other.beat()
    stop.set()
    await task
    assert await other.beat() == ("b",)


def test_polls_are_spread_over_the_interval_and_land_on_the_same_moments_for_every_copy() -> None:
    interval = 60.0
    offsets = sorted(phase(store) * interval for store in STORES)
    per_second = Counter(int(offset) for offset in offsets)
    assert len(per_second) == 60 and max(per_second.values()) < 2 * len(STORES) / 60, per_second
    assert abs(statistics.mean(offsets) - 30) < 2
    # Two copies (or one after a restart) asking at different times agree on the moment.
    for store in STORES[:50]:
        at_a, at_b = 1_000_000.0, 1_000_017.3
        assert (
            abs(
                (at_a + next_slot_in(store, interval, at_a)) % interval
                - (at_b + next_slot_in(store, interval, at_b)) % interval
            )
            < 1e-6
        )
        assert 0 <= next_slot_in(store, interval, at_a) < interval
