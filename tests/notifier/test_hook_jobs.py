"""One contract for the automation webhook jobs: the in-memory twin (fast lane) and Redis (integration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from notifier.hook_jobs import HookJob, HookJobStore, MemoryHookJobs, RedisHookJobs
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
