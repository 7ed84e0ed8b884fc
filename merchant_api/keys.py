"""API keys: random, shown once, kept only as a SHA-256, checked in constant time.

A key reads `pz_<id>_<secret>`. The id (public, 16 hex digits) finds the
key's record (`core:apikey:<id>`: its store, the secret's hash, when and
why it was made); the secret's SHA-256 is compared with `hmac.compare_digest`.
The secret holds 256 random bits, so a plain hash is enough: there is
nothing to guess that a slow hash would protect. Keys are never logged.

A store key (`--store woocommerce:demo-woo`) acts for that store only. An
operator key (`--operator`) acts for every store and may change shared
templates; give it to whoever runs the system, not to a merchant.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from plumbing.replies import text
from schemas import utc_now

KEY_PREFIX = "core:apikey:"
STORE_KEYS = "core:apikeys:"  # + store or OPERATOR: the ids of its keys, to list and revoke them
OPERATOR = "*"
_SHAPE = re.compile(r"^pz_([0-9a-f]{16})_([A-Za-z0-9_\-]{43})$")
_DUMMY = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who a request acts for: one store, or (store None) an operator."""

    key_id: str
    store: str | None

    @property
    def is_operator(self) -> bool:
        return self.store is None

    def may_act_for(self, store: str) -> bool:
        return self.store is None or self.store == store


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    store: str | None
    label: str
    created_at: datetime


class ApiKeys:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def create(self, store: str | None, label: str = "") -> tuple[KeyInfo, str]:
        """A new key for `store` (None: operator); the key itself is returned here and nowhere else, ever."""
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        info = KeyInfo(key_id, store, label, utc_now())
        owner = store or OPERATOR
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                KEY_PREFIX + key_id,
                mapping={
                    "store": owner,
                    "sha256": _digest(secret),
                    "label": label,
                    "created_at": info.created_at.isoformat(),
                },
            )
            pipe.sadd(STORE_KEYS + owner, key_id)
            await pipe.execute()
        return info, f"pz_{key_id}_{secret}"

    async def verify(self, presented: str) -> Caller | None:
        shape = _SHAPE.match(presented)
        key_id, secret = shape.groups() if shape else ("", presented)
        found = await self._redis.hmget(KEY_PREFIX + key_id, "store", "sha256") if shape else [None, None]
        owner, expected = found
        # Compared even when the id is unknown, so the answer takes as long either way.
        matches = hmac.compare_digest(_digest(secret), text(expected) if expected else _DUMMY)
        if not (matches and owner):
            return None
        return Caller(key_id, None if text(owner) == OPERATOR else text(owner))

    async def list(self, store: str | None) -> list[KeyInfo]:
        owner = store or OPERATOR
        ids = sorted(text(m) for m in await self._redis.smembers(STORE_KEYS + owner))
        infos = []
        for key_id in ids:
            row = await self._redis.hgetall(KEY_PREFIX + key_id)
            if row:
                infos.append(
                    KeyInfo(key_id, store, text(row[b"label"]), datetime.fromisoformat(text(row[b"created_at"])))
                )
        return infos

    async def revoke(self, key_id: str) -> bool:
        owner = await self._redis.hget(KEY_PREFIX + key_id, "store")
        if owner is None:
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(KEY_PREFIX + key_id)
            pipe.srem(STORE_KEYS + text(owner), key_id)
            await pipe.execute()
        return True


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
