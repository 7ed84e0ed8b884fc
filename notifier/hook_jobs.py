"""Automation webhook deliveries as jobs: one per event and endpoint, due on a timer, kept only until done.

Redis (`notifier:hooks:job:<id>` + the `notifier:hooks:due` timers) in
production, dicts in fast tests; one contract for both.

A job's payload is the event as delivered, and a `PersonalizationLinkIssued`
carries its link's URL, raw token and all: a merchant's automation may well
email that link from its own system, so the URL is delivered as it is. The
job, payload and all, is deleted the moment it is delivered, given up or set
aside; one never finished (its endpoint gone, its timer lost) expires with
the retry schedule (`JOB_TTL_S`, about 29 h), never kept longer.

A finished job leaves an empty mark in its place for the rest of that time:
its event redelivered before the consumer committed (a restart, a
rebalance) finds the mark and creates nothing, so the endpoint is not
called a second time for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

from notifier.due import MemoryTimers, RedisTimers, Timers

RETRY_AFTER_S = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200)
JOB_TTL_S = sum(RETRY_AFTER_S) + 3600  # the whole schedule (27.7 h) and an hour for attempts and a restart
DONE = b""  # a finished job's mark: no payload, no token


class HookJob(BaseModel):
    """One event for one endpoint of a store (stored as JSON under these names)."""

    model_config = ConfigDict(frozen=True)

    store: str  # `<platform>:<store_id>`
    hook: int  # the endpoint's place in the store's `webhooks`
    event_id: str
    attempts: int = 0
    body: str  # the event's JSON, as delivered


class HookJobStore(Protocol):
    @property
    def due(self) -> Timers: ...

    async def add(self, job_id: str, job: HookJob, now: datetime) -> None:
        """Create the job, due `now`; a job already there (a redelivered event's) is left as it is."""
        ...

    async def get(self, job_id: str) -> HookJob | None: ...

    async def finish(self, job_id: str) -> None:
        """The job's payload and its timer go; a redelivered event's `add` then creates nothing."""
        ...

    async def retry(self, job_id: str, job: HookJob, when: datetime) -> None:
        """Keep `job` in its place, due again at `when`."""
        ...


class RedisHookJobs:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.due = RedisTimers(redis, "notifier:hooks:due")

    @staticmethod
    def _key(job_id: str) -> str:
        return f"notifier:hooks:job:{job_id}"

    async def add(self, job_id: str, job: HookJob, now: datetime) -> None:
        if await self._redis.set(self._key(job_id), job.model_dump_json(), nx=True, ex=JOB_TTL_S):
            await self.due.schedule(job_id, now)

    async def get(self, job_id: str) -> HookJob | None:
        stored = await self._redis.get(self._key(job_id))
        return HookJob.model_validate_json(stored) if stored else None  # the DONE mark reads as no job

    async def finish(self, job_id: str) -> None:
        await self._redis.set(self._key(job_id), DONE, xx=True, keepttl=True)
        await self.due.remove(job_id)

    async def retry(self, job_id: str, job: HookJob, when: datetime) -> None:
        await self._redis.set(self._key(job_id), job.model_dump_json(), keepttl=True)
        await self.due.schedule(job_id, when)


class MemoryHookJobs:
    """The twin; jobs and their marks do not expire here."""

    def __init__(self) -> None:
        self.due = MemoryTimers()
        self.jobs: dict[str, HookJob] = {}
        self.done: set[str] = set()

    async def add(self, job_id: str, job: HookJob, now: datetime) -> None:
        if job_id not in self.jobs and job_id not in self.done:
            self.jobs[job_id] = job
            self.due.set(job_id, now)

    async def get(self, job_id: str) -> HookJob | None:
        return self.jobs.get(job_id)

    async def finish(self, job_id: str) -> None:
        if self.jobs.pop(job_id, None) is not None:
            self.done.add(job_id)
        await self.due.remove(job_id)

    async def retry(self, job_id: str, job: HookJob, when: datetime) -> None:
        self.jobs[job_id] = job
        self.due.set(job_id, when)
