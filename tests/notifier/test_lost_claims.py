"""A copy that lost its claim sends nothing: on the in-memory twin (fast lane) and on Redis (integration);
a webhook copy that lost its job's claim posts nothing.

The story: links published but not yet emailed (their first attempt met a
mail server away). Copy A claims the orders and reads them, then freezes
(no heartbeat, nothing) for longer than its lease. Copy B claims them again
and emails every link. A wakes with its stale reads, each saying "email
this link": its fence no longer counts, so it stops at the check before
the email and sends nothing. On a clock the tests move; nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from devstack.embedded import start_redis
from notifier.hook_delivery import HookDeliverer
from notifier.hook_jobs import HookJob, MemoryHookJobs
from notifier.intake import record_request
from notifier.link_state import LinkState
from notifier.mail import MemorySender
from notifier.memory_store import MemoryLinkStore
from notifier.redis_store import RedisLinkStore
from notifier.set_aside import MemorySetAside
from notifier.store import LinkStore
from tests.notifier.copies import a_copy
from tests.notifier.helpers import request
from tests.notifier.hook_world import SHOP_A, Streamed, a_job, hooks_config

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE_S = 2.0
ORDERS = 5


class FreezesAfterReading:
    """Copy A's view of the shared store: each read returns only once the test lets the copy wake."""

    def __init__(self, store: LinkStore, reads: int) -> None:
        self._store, self._expected = store, reads
        self.all_read, self.wake = asyncio.Event(), asyncio.Event()
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def timers(self) -> Any:
        return self._store.timers

    async def state(self, order_key: str) -> LinkState:
        read = await self._store.state(order_key)
        self.reads += 1
        if self.reads >= self._expected:
            self.all_read.set()
        await self.wake.wait()
        return read


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def shared(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Callable[[], LinkStore]]:
    """How each copy reaches the one store: the twin itself, or its own client of one Redis."""
    if request.param == "memory":
        twin = MemoryLinkStore()
        yield lambda: twin
        return
    server = await asyncio.to_thread(start_redis, tmp_path)
    clients: list[Redis] = []

    def connect() -> LinkStore:
        clients.append(Redis.from_url(f"redis://{server.address}/0"))
        return RedisLinkStore(clients[-1])

    yield connect
    for client in clients:
        await client.aclose()
    await asyncio.to_thread(server.stop)


async def test_a_copy_that_lost_its_claim_to_another_sends_nothing(shared: Callable[[], LinkStore]) -> None:
    now = [T0]

    def clock() -> datetime:
        return now[0]

    store = shared()
    wanted = [request(0, at=T0) for _ in range(ORDERS)]
    away = a_copy("first", store, MemorySender(failing=True), clock, lease_s=LEASE_S)
    for one in wanted:
        await record_request(store, one, T0)
    assert len(await away.scheduler.tick()) == ORDERS  # links issued and published; mail away: retried soon
    assert [len((await store.state(one.order_key)).outbox) for one in wanted] == [1] * ORDERS

    frozen = FreezesAfterReading(shared(), ORDERS)
    a = a_copy("a", frozen, MemorySender(), clock, lease_s=LEASE_S)
    b = a_copy("b", shared(), MemorySender(), clock, lease_s=LEASE_S)
    now[0] = T0 + timedelta(minutes=10)  # every retry due
    a_pass = asyncio.create_task(a.scheduler.tick())
    await frozen.all_read.wait()  # A holds every order and has read each: "email this link"

    now[0] += timedelta(seconds=LEASE_S + 1)  # A's leases ran out unrenewed: it froze
    assert len(await b.scheduler.tick()) == ORDERS
    frozen.wake.set()
    assert len(await a_pass) == ORDERS

    assert a.mail.sent == []  # stopped at the check before each email
    assert sorted(b.mail.sent) == sorted(set(b.mail.sent)) and len(b.mail.sent) == ORDERS
    assert [(await store.state(one.order_key)).outbox for one in wanted] == [()] * ORDERS
    assert [await store.timers.holder(one.order_key) for one in wanted] == [None] * ORDERS
    assert a.parked.items == {} and b.parked.items == {}


class JobReadFreezes(MemoryHookJobs):
    """Copy A's view of the shared jobs: its job read returns only once the test lets the copy wake."""

    def __init__(self, shared: MemoryHookJobs) -> None:
        super().__init__()
        self.due, self.jobs = shared.due, shared.jobs  # the same timers and jobs: one Redis, two copies
        self.read, self.wake = asyncio.Event(), asyncio.Event()

    async def get(self, job_id: str) -> HookJob | None:
        job = await super().get(job_id)
        self.read.set()
        await self.wake.wait()
        return job


async def test_a_webhook_copy_that_lost_its_claim_to_another_posts_nothing(tmp_path: Path) -> None:
    posted: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        posted.append(request.headers["webhook-id"])
        return httpx.Response(204, stream=Streamed())

    now, shared = [T0], MemoryHookJobs()
    config = hooks_config(tmp_path, {SHOP_A: "https://hooks.example.com/hook"})

    def copy(jobs: MemoryHookJobs) -> HookDeliverer:
        return HookDeliverer(config, jobs, lambda: now[0], MemorySetAside(), transport=httpx.MockTransport(answer))

    frozen = JobReadFreezes(shared)
    a, b = copy(frozen), copy(shared)
    job = await a_job(shared, SHOP_A)
    assert await a.claim() == 1
    await frozen.read.wait()  # A holds the job and has read it: "post this"
    now[0] += timedelta(seconds=a.lease_s + 1)  # A froze past its lease
    assert await b.claim() == 1
    await b.drain()
    frozen.wake.set()
    await a.drain()
    assert posted == [f"evt-{job}"]  # B's POST only: A stopped at the check before its own
    assert await shared.get(job) is None and await shared.due.due_at(job) is None
