"""One contract for the automation webhook jobs: the in-memory twin (fast lane) and Redis (integration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import ConsumerRecord
from redis.asyncio import Redis

from notifier.automation import HookRouter
from notifier.hook_delivery import HookDeliverer
from notifier.hook_jobs import JOB_TTL_S, RETRY_AFTER_S, HookJob, HookJobStore, MemoryHookJobs, RedisHookJobs
from notifier.set_aside import MemorySetAside
from plumbing.consumer import Received
from schemas import Event, topic_of
from tests.notifier.helpers import issued, request
from tests.notifier.hook_world import SHOP_A, Streamed, hooks_config
from tests.support import unique_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def a_job() -> HookJob:
    return HookJob(store="woocommerce:shop-manual", hook=0, event_id=unique_id(), body='{"event_type": "X"}')


class HookJobsContract:
    @pytest.fixture
    def jobs(self) -> HookJobStore:
        raise NotImplementedError

    async def test_a_job_is_created_once_due_at_once(self, jobs: HookJobStore) -> None:
        job, job_id = a_job(), unique_id()
        await jobs.add(job_id, job, T0)
        assert await jobs.get(job_id) == job and await jobs.due.due_at(job_id) == T0
        await jobs.add(job_id, job.model_copy(update={"hook": 1}), T0 + timedelta(hours=1))  # a redelivered event
        assert await jobs.get(job_id) == job and await jobs.due.due_at(job_id) == T0

    async def test_a_retry_keeps_the_job_with_its_attempts_and_due_later(self, jobs: HookJobStore) -> None:
        job, job_id = a_job(), unique_id()
        await jobs.add(job_id, job, T0)
        later = job.model_copy(update={"attempts": 1})
        await jobs.retry(job_id, later, T0 + timedelta(seconds=5))
        assert await jobs.get(job_id) == later and await jobs.due.due_at(job_id) == T0 + timedelta(seconds=5)

    async def test_a_finished_job_and_its_timer_are_gone(self, jobs: HookJobStore) -> None:
        job_id = unique_id()
        await jobs.add(job_id, a_job(), T0)
        await jobs.finish(job_id)
        assert await jobs.get(job_id) is None and await jobs.due.due_at(job_id) is None

    async def test_a_delivered_jobs_event_redelivered_creates_no_second_delivery(self, jobs: HookJobStore) -> None:
        job_id = unique_id()
        await jobs.add(job_id, a_job(), T0)
        await jobs.finish(job_id)
        await jobs.add(job_id, a_job(), T0 + timedelta(minutes=1))  # the consumer restarted before committing
        assert await jobs.get(job_id) is None and await jobs.due.due_at(job_id) is None


class TestMemoryHookJobs(HookJobsContract):
    @pytest.fixture
    def jobs(self) -> HookJobStore:
        return MemoryHookJobs()


class TestRedisHookJobs(HookJobsContract):
    @pytest.fixture
    def jobs(self, store_redis: Redis) -> HookJobStore:
        return RedisHookJobs(store_redis)


async def test_a_job_stored_by_the_old_notifier_reads_back(store_redis: Redis) -> None:
    job_id = unique_id()
    old = {"store": "woocommerce:shop-manual", "hook": 0, "event_id": "e1", "attempts": 3, "body": "{}"}
    await store_redis.set(f"notifier:hooks:job:{job_id}", json.dumps(old))
    assert await RedisHookJobs(store_redis).get(job_id) == HookJob.model_validate(old)


async def every_value(redis: Redis) -> list[bytes]:
    """Every key of the database and everything stored under it, whatever its type."""
    found: list[bytes] = []
    async for key in redis.scan_iter():
        found.append(key)
        kind = (await redis.type(key)).decode()
        if kind == "string":
            found.append(await redis.get(key) or b"")
        elif kind == "hash":
            found.extend(b for pair in (await redis.hgetall(key)).items() for b in pair)
        elif kind == "zset":
            found.extend(await redis.zrange(key, 0, -1))
        elif kind == "set":
            found.extend(await redis.smembers(key))
        elif kind == "list":
            found.extend(await redis.lrange(key, 0, -1))
    return found


def received(event: Event) -> Received:
    raw = event.model_dump_json().encode()
    return Received(ConsumerRecord(topic_of(event), 0, 1, 0, 0, event.order_key.encode(), raw, None, 0, 0, []), event)


@pytest.mark.parametrize("answer", [204, 500])
async def test_no_raw_link_token_stays_in_redis_once_a_webhook_is_delivered_or_given_up(
    store_redis: Redis, tmp_path: Path, answer: int
):
    link = issued(request(0))
    token = link.url.rsplit("/", 1)[1].encode()
    bodies: list[bytes] = []

    def endpoint(sent: httpx.Request) -> httpx.Response:
        bodies.append(sent.content)
        return httpx.Response(answer, stream=Streamed())

    config = hooks_config(tmp_path, {SHOP_A: "https://hooks.example.com/hook"})
    jobs = RedisHookJobs(store_redis)
    await HookRouter(config, jobs, lambda: T0)([received(link)])
    job_id = f"{link.event_id}:0"  # the event, for the store's first endpoint
    assert 0 < await store_redis.ttl(f"notifier:hooks:job:{job_id}") <= JOB_TTL_S < 3 * 86400  # never days
    if answer != 204:  # its last attempt: a failure gives it up
        job = await jobs.get(job_id)
        assert job is not None
        await jobs.retry(job_id, job.model_copy(update={"attempts": len(RETRY_AFTER_S)}), T0)
    deliverer = HookDeliverer(config, jobs, lambda: T0, MemorySetAside(), transport=httpx.MockTransport(endpoint))
    while await jobs.due.due_at(job_id) is not None:  # other suites' jobs may share the queue: until ours went
        await deliverer.claim()
        await deliverer.drain()
    assert any(link.url in body.decode() for body in bodies)  # the merchant's automation gets the link it may email on
    assert not [value for value in await every_value(store_redis) if token in value]
