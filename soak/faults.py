"""Chaos on the plan's schedule: SIGKILL and restart, Redis killed and restarted, mail down, broker paused,
sandboxes answering 429 and 500 bursts, webhook deliveries duplicated or dropped.

Every fault is recorded with when it really started and how long it lasted,
so the report can show that each kind happened.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx

from soak.config import SoakStore
from soak.plan import Fault
from soak.processes import Stack

log = logging.getLogger("soak")


@dataclass(frozen=True)
class Done:
    fault: Fault
    started: float  # seconds after traffic started
    seconds: float
    error: str | None = None


class Chaos:
    def __init__(
        self, faults: list[Fault], stack: Stack, stores: dict[str, SoakStore], http: httpx.AsyncClient, start: float
    ) -> None:
        self._faults, self._stack, self._stores, self._http, self._start = faults, stack, stores, http, start
        self.done: list[Done] = []

    async def run(self) -> None:
        await asyncio.gather(*(self._one(f) for f in self._faults))

    async def _one(self, fault: Fault) -> None:
        loop = asyncio.get_running_loop()
        delay = self._start + fault.at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        began = loop.time()
        error = None
        log.info(
            "fault at %.1fs: %s %s %s",
            began - self._start,
            fault.kind,
            fault.target,
            f"for {fault.duration:.1f}s" if fault.duration else f"x{fault.count}" if fault.count else "",
        )
        try:
            await self._inflict(fault)
        except Exception as failure:  # a fault that could not be made is reported, not fatal
            error = f"{type(failure).__name__}: {failure}"
            log.warning("fault %s %s could not be made: %s", fault.kind, fault.target, error)
        self.done.append(Done(fault, round(began - self._start, 1), round(loop.time() - began, 1), error))

    async def _inflict(self, fault: Fault) -> None:
        if fault.kind == "kill":
            await self._stack.kill_for(fault.target, fault.duration)
        elif fault.kind == "redis":
            await self._stack.restart_redis(fault.duration)
        elif fault.kind == "smtp":
            await self._stack.mail_down_for(fault.duration)
        elif fault.kind == "broker":
            await self._stack.pause_broker(fault.duration)
        elif fault.kind in ("rate_limit", "server_error"):
            store = self._stores[fault.target]
            response = await self._http.post(
                f"{store.base_url}/_sandbox/faults", json={fault.kind: fault.count, "retry_after": 0.5}, timeout=30
            )
            response.raise_for_status()
        elif fault.kind == "webhooks":
            store = self._stores[fault.target]
            await self._webhooks(store, {"url": store.webhook_url, **fault.settings})
            await asyncio.sleep(fault.duration)
            await self._webhooks(store, {"url": store.webhook_url})
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    async def _webhooks(self, store: SoakStore, settings: dict) -> None:
        response = await self._http.post(f"{store.base_url}/_sandbox/webhooks", json=settings, timeout=30)
        response.raise_for_status()
