"""One contract for both order stores: the Redis one that ships and the in-memory twin."""

from __future__ import annotations

import pytest

from core.order import Order
from core.store import MemoryOrderStore, RedisOrderStore, Write
from tests.builders import MANUAL, T0, mug, order


@pytest.fixture(params=["memory", "redis"])
def store(request, redis):
    return MemoryOrderStore() if request.param == "memory" else RedisOrderStore(redis)


def an_order() -> Order:
    received = order(MANUAL, [mug()])
    return Order(order_key=received.order_key, snapshot=received, received_at=T0)


async def test_an_unknown_order_loads_as_none_at_version_zero(store):
    (found,) = (await store.load_many(["woocommerce:shop-manual:none"])).values()
    assert found.order is None and found.version == 0


async def test_a_write_at_the_version_read_wins_and_bumps_the_version(store):
    new = an_order()
    assert await store.save_many([Write(new, 0)]) == set()
    found = (await store.load_many([new.order_key]))[new.order_key]
    assert found.order == new and found.version == 1


async def test_a_write_at_a_stale_version_loses_and_changes_nothing(store):
    first, other = an_order(), an_order()
    await store.save_many([Write(first, 0)])
    changed = first.model_copy(update={"personalize_lines": ["L1"]})
    lost = await store.save_many([Write(changed, 0), Write(other, 0)])
    assert lost == {first.order_key}
    assert (await store.load_many([first.order_key]))[first.order_key].order == first
    assert (await store.load_many([other.order_key]))[other.order_key].version == 1
