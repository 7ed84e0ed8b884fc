"""The `state` of a connect flow: what the start page knew, kept until the platform sends the browser back, once.

RFC 6749 §10.12: the state binds the callback to the request we started, so a callback with a code we did
not ask for (a login CSRF: an attacker's shop connected under the merchant's email) is refused. The state
is 32 random bytes from `secrets`; only its SHA-256 is the Redis key (a read of Redis cannot finish a
flow); it lives `STATE_TTL_S` and is taken with GETDEL, so a second callback with it is refused. Redis
fits: the state is hot, short-lived and shared by every copy behind the load balancer.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from redis.asyncio import Redis

STATE_TTL_S = 600  # a merchant reading the platform's consent page; Etsy's own codes live 5 minutes
PREFIX = "connector:connect-state:"


class ConnectStates(Protocol):
    async def issue(self, platform: str, remembered: Mapping[str, str]) -> str:
        """A new state for `platform`, remembering `remembered` (the merchant's email, a PKCE verifier…)."""
        ...

    async def take(self, platform: str, state: str) -> dict[str, str] | None:
        """What was remembered, once; None for a state unknown, expired, used, or of another platform."""
        ...


def _key(platform: str, state: str) -> str:
    return PREFIX + platform + ":" + hashlib.sha256(state.encode()).hexdigest()


class RedisConnectStates:
    def __init__(self, redis: Redis, ttl_s: int = STATE_TTL_S) -> None:
        self._redis, self._ttl_s = redis, ttl_s

    async def issue(self, platform: str, remembered: Mapping[str, str]) -> str:
        state = secrets.token_urlsafe(32)
        await self._redis.set(_key(platform, state), json.dumps(dict(remembered)), ex=self._ttl_s)
        return state

    async def take(self, platform: str, state: str) -> dict[str, str] | None:
        if not state or len(state) > 128:
            return None
        raw = await self._redis.getdel(_key(platform, state))
        return None if raw is None else dict(json.loads(raw))


class MemoryConnectStates:
    """The twin in memory, with its own clock so tests can let a state expire."""

    def __init__(self, ttl_s: float = STATE_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s, self._clock = ttl_s, clock
        self._kept: dict[str, tuple[float, dict[str, str]]] = {}

    async def issue(self, platform: str, remembered: Mapping[str, str]) -> str:
        state = secrets.token_urlsafe(32)
        self._kept[_key(platform, state)] = (self._now() + self._ttl_s, dict(remembered))
        return state

    async def take(self, platform: str, state: str) -> dict[str, str] | None:
        kept = self._kept.pop(_key(platform, state), None)
        if kept is None or self._now() >= kept[0]:
            return None
        return kept[1]

    def _now(self) -> float:
        return self._clock()
