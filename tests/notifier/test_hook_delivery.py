"""The webhook worker against real local endpoints that misbehave: slow ones cost other stores nothing.

Each story asserts the order things happened in (the shared `events`), not
durations; the waits are hang guards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from notifier.hook_delivery import HookDeliverer
from notifier.hook_jobs import MemoryHookJobs
from notifier.set_aside import MemorySetAside
from plumbing.config import Config
from tests.notifier.hook_servers import Events, HookServer, Style
from tests.notifier.hook_world import SHOP_A, SHOP_B, T0, a_job, hooks_config

pytestmark = pytest.mark.integration  # local HTTP servers, real time

DEADLINE_S = 5.0  # far above what the quick endpoint needs, far below what the drip would take


class WatchedJobs(MemoryHookJobs):
    """The twin, each finished job noted in the story's events."""

    def __init__(self, events: Events) -> None:
        super().__init__()
        self._events = events

    async def finish(self, job_id: str) -> None:
        await super().finish(job_id)
        self._events.append(f"finished {job_id}")


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path, self.events = tmp_path, Events()
        self.servers: list[HookServer] = []
        self.jobs, self.parked = WatchedJobs(self.events), MemorySetAside()

    async def server(self, name: str, style: Style) -> HookServer:
        self.servers.append(await HookServer(name, style, self.events).start())
        return self.servers[-1]

    def config(self, urls: dict[str, str]) -> Config:
        return hooks_config(self.tmp_path, urls)

    def deliverer(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime] = lambda: T0,
        deadline_s: float = DEADLINE_S,
        in_flight: int = 32,
        per_endpoint: int = 4,
    ) -> HookDeliverer:
        return HookDeliverer(
            config,
            self.jobs,
            clock,
            self.parked,
            allow_local=True,
            deadline_s=deadline_s,
            in_flight=in_flight,
            per_endpoint=per_endpoint,
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = World(tmp_path)
    yield world
    for server in world.servers:
        await server.stop()


async def test_one_slow_automation_endpoint_does_not_block_another_stores_webhooks(world: World):
    slow, quick = await world.server("slow", "drip"), await world.server("quick", "quick")
    deliverer = world.deliverer(world.config({SHOP_A: f"{slow.url}/hook", SHOP_B: f"{quick.url}/hook"}))
    stop = asyncio.Event()
    running = asyncio.create_task(deliverer.run(stop))
    slow_job = await a_job(world.jobs, SHOP_A)
    await world.events.wait_for("slow received")
    # The other store's event comes due while the slow delivery is in flight.
    quick_job = await a_job(world.jobs, SHOP_B)
    await world.events.wait_for(f"finished {quick_job}")
    assert "slow closed" not in world.events  # delivered while the slow one still dripped
    # The drip never trips a per-read timeout (a byte every 0.2 s): only the delivery's deadline cuts it.
    await world.events.wait_for("slow closed")
    retried = await world.jobs.get(slow_job)
    assert retried is not None and retried.attempts == 1
    assert await world.jobs.due.due_at(slow_job) == T0 + timedelta(seconds=5)  # retried later, not at once
    stop.set()
    await running
    assert len(slow.requests) == 1


async def test_a_delivery_ends_before_its_lease_so_no_other_copy_claims_it_again(world: World):
    slow = await world.server("slow", "drip")
    config = world.config({SHOP_A: f"{slow.url}/hook"})
    clock = [T0]  # one clock for both copies, moved on below
    copies = [world.deliverer(config, clock=lambda: clock[0]) for _ in range(2)]
    assert all(copy.lease_s > DEADLINE_S for copy in copies)
    job = await a_job(world.jobs, SHOP_A)
    assert await copies[0].claim() == 1
    await world.events.wait_for("slow received")
    clock[0] = T0 + timedelta(seconds=DEADLINE_S)  # the delivery's deadline is past, its lease is not
    assert await copies[1].claim() == 0
    await copies[0].drain()
    retried = await world.jobs.get(job)
    assert retried is not None and retried.attempts == 1  # retried, not finished
    assert len(slow.requests) == 1


async def test_an_endless_answer_is_read_only_in_part(world: World):
    endless = await world.server("endless", "endless")
    deliverer = world.deliverer(world.config({SHOP_A: f"{endless.url}/hook"}), deadline_s=60.0)
    job = await a_job(world.jobs, SHOP_A)
    await deliverer.claim()
    await deliverer.drain()
    assert await world.jobs.get(job) is None  # a 200 is delivered; the body is dropped unread, not awaited
    await world.events.wait_for("endless closed")  # dropped by the notifier: the server never stops sending


async def test_one_stores_backlog_cannot_take_every_slot(world: World):
    slow, quick = await world.server("slow", "drip"), await world.server("quick", "quick")
    config = world.config({SHOP_A: f"{slow.url}/hook", SHOP_B: f"{quick.url}/hook"})
    now = T0 + timedelta(seconds=1)
    deliverer = world.deliverer(config, clock=lambda: now, in_flight=4, per_endpoint=2)
    backlog = [await a_job(world.jobs, SHOP_A) for _ in range(6)]
    quick_job = await a_job(world.jobs, SHOP_B, at=T0 + timedelta(milliseconds=500))  # behind the whole backlog
    stop = asyncio.Event()
    running = asyncio.create_task(deliverer.run(stop))
    await world.events.wait_for(f"finished {quick_job}")
    assert world.events.count("slow closed") == 0 and slow.most_open <= 2
    stop.set()
    await running
    assert slow.most_open == 2 and all([await world.jobs.get(job) for job in backlog])
