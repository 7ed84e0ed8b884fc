"""The requests a platform allows us, spent by every connector copy from one shared budget in Redis.

Quotas are the platform's, not ours to pick (`../shared/PLATFORMS.md`, "Rate limits"): Etsy's is per app
(10 per second and 10,000 a day by default, for every shop together), BigCommerce's, Wix's and
Squarespace's per store. So the budget's key is the app for Etsy and the store elsewhere, and every copy
spends from it: a request books its moment and waits for it (GCRA, one Redis round trip) rather than earning a 429, and a
store that polls a lot slows only itself, or, on Etsy, takes no more than its share of turns.

A wait longer than `MAX_WAIT_S` is not waited: `OverBudgetError`, and the poll or fetch is left to the next
turn (the poll re-reads what it missed). A 429 that says the *daily* quota is gone (Etsy: after the last
answers said few requests were left today) blocks the key for `DAILY_BLOCK_S` on every copy: hours, not
seconds of retries that would each be refused too.

WooCommerce's REST API has no quota; its hosts' limits answer 429 with `Retry-After`, which the client
already waits (`connectors.client`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis

from connectors.metrics import BUDGET_WAITS
from plumbing.config import StoreConfig

log = logging.getLogger(__name__)

MAX_WAIT_S = 30.0
DAILY_BLOCK_S = 3600.0
DAY_S = 86_400.0

# A GCRA over each window's key, on Redis's clock (so copies on machines whose clocks differ agree), that
# *reserves*: a request told to wait W has its moment booked and goes after W without asking again. Left to
# ask again, the thousand first polls of a starting connector woke together every slot and spent a core in
# this script (measured: `benchmarks/connector_stores.py`). A wait over the limit books nothing.
# KEYS: the block, then one theoretical arrival time per window. ARGV: the longest wait in ms, then per
# window its ms per request and tolerance in ms (burst - 1 requests' worth).
# Returns {1, wait ms} booked, {0, wait ms} too long, {-1, ms left} blocked.
_SPEND = """
local block = redis.call('PTTL', KEYS[1])
if block > 0 then return {-1, block} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait, tats = 0, {}
for i = 2, #KEYS do
  local every, tolerance = tonumber(ARGV[2 * i - 2]), tonumber(ARGV[2 * i - 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tats[i] = tat
  if tat - tolerance - now > wait then wait = tat - tolerance - now end
end
if wait > tonumber(ARGV[1]) then return {0, wait} end
for i = 2, #KEYS do
  local every, tolerance = tonumber(ARGV[2 * i - 2]), tonumber(ARGV[2 * i - 1])
  local at = math.max(tats[i], now + wait) + every
  redis.call('SET', KEYS[i], string.format('%d', at), 'PX', math.ceil(at - now + tolerance) + 1000)
end
return {1, wait}
"""


class OverBudgetError(Exception):
    """The platform's quota has no room for this request soon enough: left for the next turn."""

    def __init__(self, key: str, wait_s: float, blocked: bool = False) -> None:
        why = "blocked after the daily quota ran out" if blocked else "over the request budget"
        super().__init__(f"{key}: {why}; room again in {wait_s:.0f}s")
        self.wait_s, self.blocked = wait_s, blocked


@dataclass(frozen=True)
class Quota:
    """What the platform allows one key: `per_second` on average, `burst` at once, `per_day` over 24 h."""

    per_second: float
    burst: int
    per_app: bool  # one key for the app (every store together), else one per store
    per_day: int | None = None

    def rules(self) -> list[tuple[str, float, float]]:
        """(suffix, ms per request, tolerance ms) per window."""
        every = 1000 / self.per_second
        rules = [("s", every, every * (self.burst - 1))]
        if self.per_day:
            daily = DAY_S * 1000 / self.per_day
            rules.append(("d", daily, daily * (self.per_day / 24 - 1)))  # at most an hour's share at once
        return rules


# A little under each platform's documented limit: other tools of the merchant's may spend the same store's.
QUOTAS: dict[str, Quota] = {
    "etsy": Quota(per_second=9, burst=9, per_app=True, per_day=10_000),
    "bigcommerce": Quota(per_second=4, burst=20, per_app=False),  # 150 per 30 s, shared by every app
    "wix": Quota(per_second=3, burst=20, per_app=False),  # 200 per minute per instance
    "squarespace": Quota(per_second=4, burst=20, per_app=False),  # 300 per minute, then a minute's cool-down
}


def daily_quota_gone(platform: str, headers: Mapping[str, str], left_today: int | None) -> bool:
    """Whether a 429 means the day's quota (Etsy answers 429 without its headers; what the last answers said
    was left today tells the day's refusal from a second's)."""
    if platform != "etsy":
        return False
    said = headers.get("x-remaining-today")
    if said is not None:
        return said.strip() in {"0", "-1"}
    return left_today is not None and left_today <= 10


class RateBudget:
    """One platform's budget, shared by every copy; `spend` before each request."""

    def __init__(self, redis: Redis, platform: str, quota: Quota, max_wait_s: float = MAX_WAIT_S) -> None:
        self._redis, self.platform, self.quota = redis, platform, quota
        self._spend = redis.register_script(_SPEND)
        self._max_wait_s = max_wait_s
        self.left_today: int | None = None  # the last answer's word (Etsy `x-remaining-today`)

    @classmethod
    def for_platform(cls, redis: Redis, platform: str, per_day: int | None = None) -> RateBudget | None:
        quota = QUOTAS.get(platform)
        if quota is None:
            return None
        if per_day is not None and quota.per_day is not None:
            quota = Quota(quota.per_second, quota.burst, quota.per_app, per_day)
        return cls(redis, platform, quota)

    def scope(self, store: StoreConfig) -> str:
        """Whose quota the store's requests spend: its app's (Etsy: the API key, `keystring`, every shop of one
        app alike) or its own."""
        if self.quota.per_app:
            app = store.credentials.get("keystring") or "app"
            return "app:" + hashlib.sha256(app.encode()).hexdigest()[:16]  # an API key is not a Redis key name
        return "store:" + store.store_id

    def key(self, scope: str) -> str:
        return f"connector:{self.platform}:budget:{scope}"

    async def spend(self, scope: str) -> None:
        """Book room for one request in `scope` and wait for it; OverBudgetError when that is longer than the
        limit (nothing booked)."""
        key = self.key(scope)
        rules = self.quota.rules()
        keys = [f"{key}:block", *(f"{key}:{suffix}" for suffix, _, _ in rules)]
        args = [self._max_wait_s * 1000, *(n for _, every, tolerance in rules for n in (every, tolerance))]
        booked, wait_ms = (int(n) for n in await self._spend(keys=keys, args=args))
        if booked < 0:
            raise OverBudgetError(key, wait_ms / 1000, blocked=True)
        if not booked:
            raise OverBudgetError(key, wait_ms / 1000)
        if wait_ms > 0:
            BUDGET_WAITS.labels(self.platform).inc()
            await asyncio.sleep(wait_ms / 1000)

    def observe(self, headers: Mapping[str, str]) -> None:
        left = headers.get("x-remaining-today")
        if left is not None and left.strip().lstrip("-").isdigit():
            self.left_today = int(left)

    async def refused(self, scope: str, headers: Mapping[str, str]) -> None:
        """A 429: when it says the day's quota is gone, no copy asks again for `DAILY_BLOCK_S`."""
        if not daily_quota_gone(self.platform, headers, self.left_today):
            return
        key = self.key(scope)
        await self._redis.set(f"{key}:block", b"1", px=math.ceil(DAILY_BLOCK_S * 1000))
        log.warning("%s: the daily request quota is spent; no requests for %.0f minutes", key, DAILY_BLOCK_S / 60)
        raise OverBudgetError(key, DAILY_BLOCK_S, blocked=True)

    def polls_per_day(self, stores: int, requests_per_poll: float = 1.0, share: float = 0.5) -> float | None:
        """How many polls a day each of `stores` may make on a per-app daily quota, leaving `1 - share` of it
        for webhook fetches and token refreshes; None: no daily quota."""
        if self.quota.per_day is None or not self.quota.per_app or stores <= 0:
            return None
        return self.quota.per_day * share / (stores * requests_per_poll)


def paced(interval: timedelta, budget: RateBudget | None, stores: int) -> timedelta:
    """The poll interval a per-app daily quota leaves each of `stores` (Etsy: 1,000 shops on 10,000 requests
    a day poll every 4.8 h; webhooks carry the news meanwhile), or `interval` when that is longer."""
    per_day = budget.polls_per_day(stores) if budget is not None else None
    if not per_day:
        return interval
    return max(interval, timedelta(seconds=DAY_S / per_day))
