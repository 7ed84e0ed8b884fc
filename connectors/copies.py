"""Which copy of a platform's connector polls which store, and when in the poll interval.

Every copy routes every store's webhooks, but each store is polled by one copy: its owner by rendezvous
(highest random weight) hashing over the copies alive now. A copy says it is alive in a Redis sorted set
(member: its id, score: when that runs out) every `ttl_s / 3`; a copy that stops leaves at once, one that
dies drops out when its score runs out. A copy joining or leaving moves only the stores it gains or gives
up (about 1/N of them), with no coordinator and nothing to rebalance; two copies that briefly disagree on
the members both think they own a store, and the cursor's turn (`Cursor.take_turn`) lets only one poll.

Each store polls at its own phase of the interval (`phase`, from its key), on the wall clock: so 1,000
stores with a 60 s interval make about 17 polls a second, on every copy and after every restart, never
1,000 at once; and a store that changes owner is polled at the same moments as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

TTL_S = 15.0


def _weight(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest(), "big")


def phase(store_key: str) -> float:
    """Where in its poll interval the store polls, in [0, 1): evenly spread over keys, the same on every copy."""
    return _weight("phase", store_key) / 2**64


def next_slot_in(store_key: str, interval_s: float, now: float) -> float:
    """Seconds until the store's next poll moment: `phase × interval` past a multiple of the interval."""
    if interval_s <= 0:
        return 0.0
    return (phase(store_key) * interval_s - now) % interval_s


class Copies:
    def __init__(
        self,
        redis: Redis,
        platform: str,
        copy_id: str | None = None,
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis, self._key = redis, f"connector:{platform}:copies"
        self.copy_id = copy_id or uuid.uuid4().hex[:12]
        self._ttl_s, self._clock = ttl_s, clock
        self._live: tuple[str, ...] = ()

    @property
    def live(self) -> tuple[str, ...]:
        return self._live

    def owns(self, store_key: str) -> bool:
        """Whether this copy polls the store. Before its first beat (or while Redis has never answered) a
        copy owns every store: the turn keeps copies from polling one store twice meanwhile."""
        if not self._live:
            return True
        return max(self._live, key=lambda member: _weight(member, store_key)) == self.copy_id

    async def beat(self) -> tuple[str, ...]:
        """Say this copy is alive, forget copies that stopped saying so, and read who is left."""
        now = self._clock()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._key, {self.copy_id: now + self._ttl_s})
            pipe.zremrangebyscore(self._key, "-inf", now)
            pipe.zrange(self._key, 0, -1)
            members = (await pipe.execute())[2]
        live = tuple(sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members))
        if live != self._live:
            log.info("connector copies alive: %d (this one %s)", len(live), self.copy_id)
        self._live = live
        return live

    async def leave(self) -> None:
        await self._redis.zrem(self._key, self.copy_id)

    async def run(self, stop: asyncio.Event) -> None:
        """Beat until `stop`, then leave, so the others take this copy's stores at their next beat."""
        while not stop.is_set():
            try:
                await self.beat()
            except RedisError as error:  # the last view stands; polls need Redis anyway and wait it out
                log.warning("connector copies: Redis unavailable (%s); keeping the last view", type(error).__name__)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._ttl_s / 3)
            except TimeoutError:
                pass
        try:
            await self.leave()
        except RedisError:
            pass  # it drops out when its score runs out
