"""How often a link may be re-sent: 3 an hour per order, 100 an hour per store.

Every `resend-link` mails a fresh link (to the merchant, or to the customer where the store chose so), so an
unlimited route lets one key flood a customer's inbox and spend the sending domain's reputation. Three an
hour covers a merchant who resends while on the phone with a buyer; a hundred an hour per store is far above
any store's real use and still caps what a stolen key can send.

Fixed windows, counted in Redis (hot, short-lived state): the first resend of an order (or store) starts its
hour, the key expires with it. Only a resend let through counts; a refused one tells when to come back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis

from schemas import utc_now

PER_ORDER = 3
PER_STORE = 100
WINDOW = timedelta(hours=1)
PREFIX = "merchant_api:resends:"

# KEYS: the order's counter, the store's; ARGV: their limits, the window in ms.
# Answers -1 when let through (both counted), else the ms until the full counter's window ends.
_TAKE = """
local limits = {tonumber(ARGV[1]), tonumber(ARGV[2])}
for i = 1, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= limits[i] then
    local left = redis.call('PTTL', KEYS[i])
    if left < 0 then
      redis.call('PEXPIRE', KEYS[i], ARGV[3])
      left = tonumber(ARGV[3])
    end
    return left
  end
end
for i = 1, 2 do
  if redis.call('INCR', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  end
end
return -1
"""


class ResendLimiter(Protocol):
    async def take(self, store: str, order_key: str) -> int | None:
        """Count one resend and answer None, or, over a limit, count nothing and answer the seconds to wait."""
        ...


def _seconds(ms: int) -> int:
    return max(1, math.ceil(ms / 1000))


class RedisResendLimiter:
    def __init__(self, redis: Redis, per_order: int = PER_ORDER, per_store: int = PER_STORE) -> None:
        self._take = redis.register_script(_TAKE)
        self._limits = (per_order, per_store)

    async def take(self, store: str, order_key: str) -> int | None:
        keys = [f"{PREFIX}order:{order_key}", f"{PREFIX}store:{store}"]
        left = int(await self._take(keys=keys, args=[*self._limits, int(WINDOW.total_seconds() * 1000)]))
        return None if left < 0 else _seconds(left)


@dataclass
class _Window:
    used: int
    ends: datetime


class MemoryResendLimiter:
    """The in-memory twin, on a clock the tests move."""

    def __init__(
        self, per_order: int = PER_ORDER, per_store: int = PER_STORE, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._limits = (per_order, per_store)
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    async def take(self, store: str, order_key: str) -> int | None:
        now = self._clock()
        names = [f"order:{order_key}", f"store:{store}"]
        windows = [self._windows.get(n) for n in names]
        windows = [w if w is not None and w.ends > now else None for w in windows]
        for window, limit in zip(windows, self._limits, strict=True):
            if window is not None and window.used >= limit:
                return _seconds(int((window.ends - now) / timedelta(milliseconds=1)))
        for name, window in zip(names, windows, strict=True):
            if window is None:
                self._windows[name] = _Window(1, now + WINDOW)
            else:
                window.used += 1
        return None
