"""Merchant API keys dev makes for its stores, so a newcomer can call the API at once: shown once, kept hashed."""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from merchant_api.keys import ApiKeys


async def create_api_keys(redis_url: str, store_keys: Iterable[str], label: str) -> dict[str, str]:
    """A fresh key per store key."""
    redis = Redis.from_url(redis_url)
    try:
        keys = ApiKeys(redis)
        return {store: (await keys.create(store, label=label))[1] for store in store_keys}
    finally:
        await redis.aclose()
