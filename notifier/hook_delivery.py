"""The automation webhook worker: due jobs claimed no faster than they can be delivered, each on its own.

- Each delivery is its own task, over within `deadline_s` (`notifier/hook_post.py`);
  none waits for another, so a slow endpoint costs another store's delivery
  nothing.
- At most `in_flight` deliveries at once, and at most `per_endpoint` to one
  endpoint; a job whose endpoint is at its share waits `BUSY_RETRY_S`
  rather than a slot, so one store's backlog cannot fill every slot.
- A claim takes only as many jobs as there are free slots, each started at
  once, and its lease is the deadline plus a margin for the Redis calls
  around it. Right before the POST the copy checks its claim's fence and
  renews the lease in one Redis call (`notifier/leases.py`): a copy that
  lost the job to another (its lease ran out while Redis or its own event
  loop stalled before the POST) posts nothing; one that still holds it has a
  whole lease, longer than the POST's deadline, so no copy claims the job
  again while it is in flight. No heartbeat is needed: the POST is bounded.
- A job that fails on its own account (not Redis away) is set aside with its
  reason (`notifier/set_aside.py`) and the worker goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from notifier import destinations
from notifier.automation import DELIVERIES
from notifier.destinations import where
from notifier.hook_jobs import RETRY_AFTER_S, HookJob, HookJobStore
from notifier.hook_post import post
from notifier.leases import ClaimLost, Lease, Leases
from notifier.set_aside import SetAside, is_transient, set_aside
from notifier.slots import Slots
from plumbing.config import Config, OutboundWebhook

log = logging.getLogger("notifier.automation")

DEADLINE_S = 15.0
LEASE_MARGIN_S = 15.0  # the job's read and its finish or retry, around the POST
IN_FLIGHT = 32
PER_ENDPOINT = 4
BUSY_RETRY_S = 1.0
IDLE_S = 0.5


def hook_name(job: HookJob) -> str:
    """An endpoint as logs name it: its store and place in the store's `webhooks`."""
    return f"{job.store} hook {job.hook}"


class HookDeliverer:
    def __init__(
        self,
        config: Config,
        jobs: HookJobStore,
        clock: Callable[[], datetime],
        parked: SetAside,
        *,
        allow_local: bool = False,
        deadline_s: float = DEADLINE_S,
        in_flight: int = IN_FLIGHT,
        per_endpoint: int = PER_ENDPOINT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config, self._jobs, self._clock, self._parked = config, jobs, clock, parked
        self._allow_local, self._deadline_s = allow_local, deadline_s
        self.lease_s = deadline_s + LEASE_MARGIN_S  # always longer than a delivery can take
        self._leases = Leases(jobs.due, self.lease_s, clock)
        self._per_endpoint = per_endpoint
        self._slots = Slots(in_flight)
        self._busy: Counter[tuple[str, int]] = Counter()
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        self._http = httpx.AsyncClient(
            transport=transport or destinations.transport(limits, allow_local),
            timeout=deadline_s,
            follow_redirects=False,
            trust_env=False,
        )

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                if not await self.claim():  # nothing due, every slot busy, or Redis away
                    await self._slots.pause(stop, IDLE_S)
        finally:
            await self._slots.drain()  # each is over within its deadline
            await self._http.aclose()

    async def claim(self) -> int:
        """Claim as many due jobs as there are free slots and start each; how many were started."""
        free = self._slots.free
        if free <= 0:
            return 0
        try:
            due = await self._leases.claim(free)
        except Exception:  # Redis away: nothing claimed
            log.exception("claiming webhook jobs failed; retrying")
            return 0
        for lease in due:
            self._slots.start(self._guarded(lease))
        return len(due)

    async def drain(self) -> None:
        """Wait for the deliveries in flight (tests)."""
        await self._slots.drain()

    async def _guarded(self, lease: Lease) -> None:
        job_id = lease.member
        try:
            await self.deliver(job_id, lease)
        except ClaimLost:
            log.warning("webhook job %s was claimed again by another copy: not delivered from here", job_id)
            return
        except Exception as error:
            if is_transient(error):  # Redis away: the claim's lease brings it back
                log.warning(
                    "webhook job %s failed (%s); due again in %.0fs", job_id, type(error).__name__, self.lease_s
                )
                return
            try:
                await set_aside(self._parked, self._jobs.due, "hooks", job_id, error, self._clock())
                await self._jobs.finish(job_id)  # its payload may hold a link's token; its event stays in its topic
            except Exception:
                log.exception("could not set webhook job %s aside; due again in %.0fs", job_id, self.lease_s)
        try:
            await lease.release()  # after a finish (the claim went with it) or a retry (its time stands): nothing
        except Exception:  # Redis away: the lease runs out by itself
            log.exception("could not let go of webhook job %s; due again in %.0fs", job_id, self.lease_s)

    async def deliver(self, job_id: str, lease: Lease) -> None:
        job = await self._jobs.get(job_id)
        hook = self._hook_of(job) if job else None
        if job is None or hook is None:
            await self._jobs.finish(job_id)  # gone from the config since: nothing to deliver to
            return
        endpoint = (job.store, job.hook)
        if self._busy[endpoint] >= self._per_endpoint:  # its share in flight: wait for it, not for a slot
            await self._jobs.due.schedule(job_id, self._clock() + timedelta(seconds=BUSY_RETRY_S))
            return
        refused = destinations.refused_url(hook.url, self._allow_local)
        if refused:
            await self._give_up(job_id, job, hook, f"refused: {refused}", "refused")
            return
        await lease.hold()  # still ours, and a whole lease ahead: longer than the POST can take
        now = self._clock()
        self._busy[endpoint] += 1
        try:
            answer = await post(self._http, hook, job, now, self._deadline_s)
        finally:
            self._busy[endpoint] -= 1
        if answer.ok:
            DELIVERIES.labels("delivered").inc()
            await self._jobs.finish(job_id)
            return
        attempts = job.attempts + 1
        if attempts > len(RETRY_AFTER_S):
            await self._give_up(job_id, job, hook, f"{answer.why}, after {attempts} attempts", "gave_up")
            return
        DELIVERIES.labels("retry").inc()
        delay = RETRY_AFTER_S[attempts - 1]
        log.warning(
            "webhook %s to %s (%s) failed (%s); attempt %d in %ds",
            job.event_id,
            hook_name(job),
            where(hook.url),
            answer.why,
            attempts + 1,
            delay,
        )
        await self._jobs.retry(job_id, job.model_copy(update={"attempts": attempts}), now + timedelta(seconds=delay))

    async def _give_up(self, job_id: str, job: HookJob, hook: OutboundWebhook, why: str, result: str) -> None:
        DELIVERIES.labels(result).inc()
        log.error("gave up delivering %s to %s (%s): %s", job.event_id, hook_name(job), where(hook.url), why)
        await self._jobs.finish(job_id)  # the payload goes with it

    def _hook_of(self, job: HookJob) -> OutboundWebhook | None:
        platform, _, store_id = job.store.partition(":")
        store = self._config.store(platform, store_id)
        return store.webhooks[job.hook] if store is not None and job.hook < len(store.webhooks) else None
