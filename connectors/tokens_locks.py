"""One refresh of a store's token at a time across every connector copy: a lock per store in Redis, and its twin.

The lock is `SET key <random> NX PX ttl`, released only by its holder (compare-and-delete in one script), so a
holder that outlived its lease cannot release another's. It is an economy, not the safety: the registry's
compare-and-set on `credentials_version` is what keeps two writes of one store from both landing. A copy
that finds the lock held waits for it (short sleeps) and, once it holds it, re-reads the registry.
Nothing secret is in the key or the value.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis

PREFIX = "connector:token-refresh:"
POLL_S = (0.02, 0.25)  # the first and the longest wait between two tries of a held lock

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RefreshLockTimeout(TimeoutError):
    """The store's refresh lock stayed held for longer than its lease: its holder is stuck; try later."""


class RefreshLocks(Protocol):
    async def try_acquire(self, key: str, ttl_s: float) -> str | None:
        """The holder's token when the lock was free; None when another holds it."""
        ...

    async def release(self, key: str, token: str) -> None: ...


@contextlib.asynccontextmanager
async def held(
    locks: RefreshLocks, key: str, ttl_s: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> AsyncIterator[None]:
    """Hold `key` (waiting up to about twice its lease for it), release it on leaving."""
    deadline = time.monotonic() + 2 * ttl_s
    wait = POLL_S[0]
    while (token := await locks.try_acquire(key, ttl_s)) is None:
        if time.monotonic() >= deadline:
            raise RefreshLockTimeout(f"the refresh lock {key} stayed held over {2 * ttl_s:g}s")
        await sleep(wait)
        wait = min(POLL_S[1], wait * 2)
    try:
        yield
    finally:
        await locks.release(key, token)


class RedisRefreshLocks:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._release = redis.register_script(_RELEASE)

    async def try_acquire(self, key: str, ttl_s: float) -> str | None:
        token = secrets.token_hex(16)
        acquired = await self._redis.set(PREFIX + key, token, nx=True, px=max(1, int(ttl_s * 1000)))
        return token if acquired else None

    async def release(self, key: str, token: str) -> None:
        await self._release(keys=[PREFIX + key], args=[token])


class MemoryRefreshLocks:
    """The twin in memory, with its own clock so a test can let a lease run out."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._held: dict[str, tuple[str, float]] = {}
        self.acquired = 0  # how many times a lock was taken: tests count refresh attempts with it

    async def try_acquire(self, key: str, ttl_s: float) -> str | None:
        holder = self._held.get(key)
        if holder is not None and self._clock() < holder[1]:
            return None
        token = secrets.token_hex(16)
        self._held[key] = (token, self._clock() + ttl_s)
        self.acquired += 1
        return token

    async def release(self, key: str, token: str) -> None:
        if self._held.get(key, ("", 0.0))[0] == token:
            del self._held[key]
