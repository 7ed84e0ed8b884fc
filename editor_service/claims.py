"""Claims: "this key's event is published once", with the event itself, listed until the broker acknowledged it.

A claim is written atomically or not at all, and only if no claim stands against it (`supersedes`): a
claim without a generation stands for as long as it is kept; one answering generation N stands against
every claim up to N, so only a newer generation may claim the key again. The claim keeps the event's JSON,
so whoever publishes it later sends the same `event_id`.

Redis layout, per kind of claim (`ClaimKeys`):
- `<claims><key>` (hash): `event`, `event_id`, `published` (`0`/`1`), `seq` (the generation) if any, and
  `failed` (why) once set aside: an event that can never be published, taken off the list and dead-lettered;
- `<pending>` (sorted set of keys, by claim time): the claims whose publish is not acknowledged yet;
- `<leases><key>` (string): a short lease, so of several copies only one republishes a key at a time.
A claim expires `retention_s` after it was written; marking it published does not extend it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from redis.asyncio import Redis

Clock = Callable[[], float]  # epoch seconds


@dataclass(frozen=True)
class Claim:
    key: str  # what the event is once per: an order, a link
    event_id: str
    event: str  # the event's JSON: what a republish sends again
    generation: int | None = None
    published: bool = False
    failed: str | None = None  # set aside: why it can never be published


def supersedes(new: Claim, held: Claim | None) -> bool:
    """Whether `new` may replace the claim held for its key (none held, or one of an older generation)."""
    if held is None:
        return True
    return new.generation is not None and held.generation is not None and new.generation > held.generation


class ClaimStore(Protocol):
    async def claim(self, claim: Claim) -> bool:
        """Write `claim` and list it as unpublished, unless a claim stands against it (`supersedes`); atomic."""
        ...

    async def held(self, key: str) -> Claim | None: ...

    async def mark_published(self, key: str, event_id: str) -> bool:
        """Take the claim off the list; False (nothing changed) if `key` is no longer claimed by `event_id`."""
        ...

    async def set_aside(self, key: str, event_id: str, reason: str) -> bool:
        """Take the claim off the list as never publishable, keeping it with `reason`; False as `mark_published`."""
        ...

    async def due(self, grace_s: float, limit: int = 100, offset: int = 0) -> list[Claim]:
        """Claims listed as unpublished for `grace_s` or more, oldest first, from the `offset`-th on."""
        ...

    async def lease(self, key: str, seconds: int) -> bool:
        """True for one caller until `seconds` have passed."""
        ...


@dataclass(frozen=True)
class ClaimKeys:
    claims: str  # prefix of each claim's hash
    pending: str  # the sorted set of unpublished claims
    leases: str  # prefix of each republishing lease


# KEYS: the claim, the pending list. ARGV: generation ('' for none), event, event_id, claimed at, ttl, key.
# The comparison is `supersedes`, in Redis so that it and the write are one step.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local held = redis.call('HGET', KEYS[1], 'seq')
  if ARGV[1] == '' or not held or tonumber(held) >= tonumber(ARGV[1]) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'event', ARGV[2], 'event_id', ARGV[3], 'published', '0')
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'seq', ARGV[1]) end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[6])
return 1
"""

# Only the claim's own event: a newer generation's claim stays listed until its own publish is acknowledged.
_PUBLISHED = """
if redis.call('HGET', KEYS[1], 'event_id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'published', '1')
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""

# The same step for a claim that can never be published: off the list, kept with the reason.
_SET_ASIDE = """
if redis.call('HGET', KEYS[1], 'event_id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'failed', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""

_FIELDS = ("event", "event_id", "seq", "published", "failed")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _claim_of(key: str, row: list[bytes | str | None]) -> Claim | None:
    event, event_id, seq, published, failed = row
    if event is None or event_id is None:
        return None
    generation = int(seq) if seq is not None else None
    is_published = published is not None and _text(published) == "1"
    return Claim(key, _text(event_id), _text(event), generation, is_published, _text(failed) if failed else None)


class RedisClaims:
    def __init__(self, redis: Redis, keys: ClaimKeys, retention_s: int, clock: Clock = time.time) -> None:
        self._redis, self._keys, self._retention_s, self._clock = redis, keys, retention_s, clock
        self._claim = redis.register_script(_CLAIM)
        self._published = redis.register_script(_PUBLISHED)
        self._set_aside = redis.register_script(_SET_ASIDE)

    async def claim(self, claim: Claim) -> bool:
        generation = "" if claim.generation is None else claim.generation
        args = [generation, claim.event, claim.event_id, self._clock(), self._retention_s, claim.key]
        return bool(await self._claim(keys=[self._keys.claims + claim.key, self._keys.pending], args=args))

    async def held(self, key: str) -> Claim | None:
        return _claim_of(key, await self._redis.hmget(self._keys.claims + key, _FIELDS))

    async def mark_published(self, key: str, event_id: str) -> bool:
        keys = [self._keys.claims + key, self._keys.pending]
        return bool(await self._published(keys=keys, args=[event_id, key]))

    async def set_aside(self, key: str, event_id: str, reason: str) -> bool:
        keys = [self._keys.claims + key, self._keys.pending]
        return bool(await self._set_aside(keys=keys, args=[event_id, key, reason]))

    async def due(self, grace_s: float, limit: int = 100, offset: int = 0) -> list[Claim]:
        cutoff = self._clock() - grace_s
        listed = await self._redis.zrangebyscore(self._keys.pending, "-inf", cutoff, offset, limit)
        keys = [_text(cast(bytes, member)) for member in listed]  # members, without their scores
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(self._keys.claims + key, _FIELDS)
            rows = await pipe.execute()
        claims = []
        for key, row in zip(keys, rows, strict=True):
            claim = _claim_of(key, row)
            if claim is None:  # expired or lost: nothing left to publish
                await self._redis.zrem(self._keys.pending, key)
                continue
            claims.append(claim)
        return claims

    async def lease(self, key: str, seconds: int) -> bool:
        return bool(await self._redis.set(self._keys.leases + key, "1", nx=True, ex=seconds))
