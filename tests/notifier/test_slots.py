"""The slots the scheduler and the webhook worker share: free counts what is in flight, a pause ends when a
task does (not only at its idle time), drain waits for all."""

from __future__ import annotations

import asyncio

from notifier.slots import Slots


async def test_a_pause_ends_when_a_slot_frees_and_drain_waits_for_every_task() -> None:
    slots, release, finished = Slots(2), asyncio.Event(), []

    async def work(name: str, wait: asyncio.Event | None) -> None:
        if wait:
            await wait.wait()
        finished.append(name)

    slots.start(work("quick", None))
    slots.start(work("held", release))
    assert slots.free == 0
    await slots.pause(asyncio.Event(), idle_s=60)  # returns as "quick" ends, long before 60 s
    assert finished == ["quick"] and slots.free == 1
    release.set()
    await slots.drain()
    assert finished == ["quick", "held"] and slots.free == 2


async def test_a_pause_ends_at_stop() -> None:
    slots, stop = Slots(1), asyncio.Event()
    stop.set()
    await asyncio.wait_for(slots.pause(stop, idle_s=60), timeout=5)
