"""Dedupe and the poll cursor (`connectors/seen.py`) against the session's real Redis.

Every test uses a store id of its own, so keys never collide between tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from connectors.seen import CLAIM_MS, Cursor, SeenOrders, Verdict
from tests.support import unique_id

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
LATER = T0 + timedelta(seconds=1)
EARLIER = T0 - timedelta(seconds=1)


async def classify(orders: SeenOrders, order_id: str, modified_at, digest: str) -> Verdict:
    """One order's verdict (the intake asks for a whole page at once)."""
    (verdict,) = await orders.classify([(order_id, modified_at, digest)])
    return verdict


def seen(redis: Redis, store_id: str | None = None) -> SeenOrders:
    return SeenOrders(redis, "woocommerce", store_id or f"seen-{unique_id()}")


async def claims(redis: Redis, store_id: str) -> list[bytes]:
    return [key async for key in redis.scan_iter(match=f"connector:woocommerce:{store_id}:claim:*")]


async def published(orders: SeenOrders, order_id: str, modified_at: datetime, digest: str) -> Verdict:
    """Classify, and when told to publish, record as the intake does once the broker acknowledged."""
    verdict = await classify(orders, order_id, modified_at, digest)
    if verdict.publish:
        await orders.record([(order_id, modified_at, digest)])
    return verdict


async def test_a_first_sighting_is_new_and_the_same_version_again_is_same(redis: Redis):
    orders = seen(redis)
    assert await published(orders, "1", T0, "d1") is Verdict.NEW
    assert await classify(orders, "1", T0, "d1") is Verdict.SAME
    assert await classify(orders, "1", LATER, "d1") is Verdict.SAME  # a newer time alone is no change we map


async def test_a_new_digest_is_changed_and_then_same(redis: Redis):
    orders = seen(redis)
    await published(orders, "1", T0, "d1")
    assert await published(orders, "1", LATER, "d2") is Verdict.CHANGED
    assert await classify(orders, "1", LATER, "d2") is Verdict.SAME


async def test_an_older_modified_time_is_stale_whatever_its_digest(redis: Redis):
    orders = seen(redis)
    await published(orders, "1", T0, "d1")
    assert await classify(orders, "1", EARLIER, "d0") is Verdict.STALE
    assert await classify(orders, "1", EARLIER, "d1") is Verdict.STALE
    assert not Verdict.STALE.publish and not Verdict.SAME.publish and not Verdict.CLAIMED.publish


async def test_orders_and_stores_are_kept_apart(redis: Redis):
    one, other = seen(redis), seen(redis)
    await published(one, "1", T0, "d1")
    assert await classify(one, "2", T0, "d1") is Verdict.NEW
    assert await classify(other, "1", T0, "d1") is Verdict.NEW


async def test_a_version_being_published_is_claimed_for_everyone_else(redis: Redis):
    orders = seen(redis)
    assert await classify(orders, "1", T0, "d1") is Verdict.NEW  # the webhook holds the claim ...
    assert await classify(orders, "1", T0, "d1") is Verdict.CLAIMED  # ... so the racing poll stands back
    assert await classify(orders, "1", LATER, "d2") is Verdict.CLAIMED


async def test_a_claim_expires_so_a_crashed_publisher_blocks_nobody_for_long(redis: Redis):
    store_id = f"seen-{unique_id()}"
    await classify(seen(redis, store_id), "1", T0, "d1")
    (claim,) = await claims(redis, store_id)
    assert 0 < await redis.pttl(claim) <= CLAIM_MS


async def test_release_lets_the_next_caller_claim(redis: Redis):
    orders = seen(redis)
    await classify(orders, "1", T0, "d1")
    await orders.release(["1"])  # the publish failed
    assert await classify(orders, "1", T0, "d1") is Verdict.NEW


async def test_a_changed_version_is_claimed_too_and_released_on_failure(redis: Redis):
    orders = seen(redis)
    await published(orders, "1", T0, "d1")
    assert await classify(orders, "1", LATER, "d2") is Verdict.CHANGED
    assert await classify(orders, "1", LATER, "d2") is Verdict.CLAIMED
    await orders.release(["1"])
    assert await classify(orders, "1", LATER, "d2") is Verdict.CHANGED


async def test_record_clears_the_claim(redis: Redis):
    store_id = f"seen-{unique_id()}"
    orders = seen(redis, store_id)
    await classify(orders, "1", T0, "d1")
    await orders.record([("1", T0, "d1")])
    assert await claims(redis, store_id) == []
    assert await classify(orders, "1", LATER, "d2") is Verdict.CHANGED  # claimable at once, not after CLAIM_MS


async def test_a_page_after_redis_lost_its_scripts_loads_them_and_classifies_every_order_once(redis: Redis):
    orders = seen(redis)
    page = [(str(n), T0, f"d{n}") for n in range(3)]
    await redis.script_flush()  # a restarted Redis: the page's EVALSHAs all answer NOSCRIPT, none ran
    assert await orders.classify(page) == [Verdict.NEW] * 3
    await orders.record(page)
    await redis.script_flush()
    assert await orders.classify(page) == [Verdict.SAME] * 3


async def test_the_cursor_starts_empty_and_keeps_microseconds(redis: Redis):
    cursor = Cursor(redis, "woocommerce", f"cursor-{unique_id()}")
    assert await cursor.get() is None
    moment = T0 + timedelta(microseconds=123_456)
    await cursor.advance(moment)
    assert await cursor.get() == moment


async def test_the_cursor_never_moves_backwards(redis: Redis):
    cursor = Cursor(redis, "woocommerce", f"cursor-{unique_id()}")
    await cursor.advance(T0)
    await cursor.advance(EARLIER)
    assert await cursor.get() == T0
    await cursor.advance(T0)
    assert await cursor.get() == T0
    await cursor.advance(LATER)
    assert await cursor.get() == LATER
    await cursor.advance(T0 - timedelta(days=365))
    assert await cursor.get() == LATER


async def test_cursors_of_two_stores_are_independent(redis: Redis):
    one = Cursor(redis, "woocommerce", f"cursor-{unique_id()}")
    other = Cursor(redis, "woocommerce", f"cursor-{unique_id()}")
    await one.advance(LATER)
    await other.advance(EARLIER)
    assert (await one.get(), await other.get()) == (LATER, EARLIER)
