"""The scripted merchant: approves the orders the plan says, once core holds them in `pending_approval`.

It reads core's state as a merchant's dashboard would and publishes
`ApproveOrder` on `orders.commands` (the merchant API, when there is one,
does the same). Some approvals are sent twice: the same event again (a
producer's retry) or a second command (a double click); core must fulfill once.
"""

from __future__ import annotations

import asyncio
import logging
import random

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas import ApproveOrder, encode, topic_of
from soak.ledger import OrderRun
from soak.observe import core_statuses

log = logging.getLogger("soak")


class Merchant:
    def __init__(self, runs: list[OrderRun], redis: Redis, producer: AIOKafkaProducer, seed: int) -> None:
        self._runs, self._redis, self._producer = runs, redis, producer
        self._rng = random.Random(seed)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            waiting = [
                r for r in self._runs if r.placed and r.plan.approve and not r.approvals and r.paid and not r.cancelled
            ]
            try:
                statuses = await core_statuses(self._redis, [r.key for r in waiting]) if waiting else {}
            except (RedisError, OSError):
                statuses = {}  # Redis is restarting (a fault): look again in a second
            for run in waiting:
                if statuses.get(run.key) == "pending_approval":
                    await self._approve(run)
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass

    async def _approve(self, run: OrderRun) -> None:
        command = ApproveOrder(order_key=run.key, reason="approved by the soak's merchant")
        await self._send(command)
        run.approvals += 1
        if run.plan.approve_twice:
            again = command if self._rng.random() < 0.5 else ApproveOrder(order_key=run.key, reason="clicked twice")
            await self._send(again)
            run.approvals += 1

    async def _send(self, command: ApproveOrder) -> None:
        while True:
            try:
                await self._producer.send_and_wait(topic_of(command), encode(command), key=command.order_key.encode())
                return
            except KafkaError as error:  # the broker is paused (a fault): the merchant clicks again later
                log.info("approving %s failed (%r); retrying", command.order_key, error)
                await asyncio.sleep(2.0)
