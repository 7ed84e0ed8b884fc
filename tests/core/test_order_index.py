"""The listing index both order stores keep with each write: one contract for the Redis store and its twin."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.order import Order
from core.store import MemoryOrderStore, RedisOrderStore, Write
from schemas import OrderStatus
from tests.builders import MANUAL, T0, mug, order
from tests.support import unique_id

PP, PA, IF = OrderStatus.PENDING_PERSONALIZATION, OrderStatus.PENDING_APPROVAL, OrderStatus.IN_FULFILLMENT


@pytest.fixture(params=["memory", "redis"])
def store(request, redis):
    return MemoryOrderStore() if request.param == "memory" else RedisOrderStore(redis)


@pytest.fixture
def shop() -> tuple[str, str]:
    """A store id of its own per test, so the Redis indexes of earlier tests do not show up."""
    return MANUAL[0], f"shop-{unique_id()}"


def an_order(shop, at, status=PP) -> Order:
    received = order(shop, [mug()], at=at)
    return Order(order_key=received.order_key, snapshot=received, received_at=at, status=status)


async def every_page(store, name, status, limit):
    pages, after = [], None
    while True:
        page = await store.page(name, status, after, limit)
        pages.append(page.order_keys)
        if page.next is None:
            return pages
        after = page.next


async def test_pages_run_newest_first_and_orders_received_together_are_neither_lost_nor_repeated(store, shop):
    times = [
        T0,
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
    ]
    orders = [an_order(shop, at) for at in times]
    assert await store.save_many([Write(o, 0) for o in orders]) == set()
    name = f"{shop[0]}:{shop[1]}"
    pages = await every_page(store, name, None, 2)
    flat = [key for page in pages for key in page]
    assert sorted(flat) == sorted(o.order_key for o in orders) and len(flat) == len(set(flat))
    assert [len(p) for p in pages] == [2, 2, 1]
    received = {o.order_key: o.received_at for o in orders}
    assert [received[k] for k in flat] == sorted(received.values(), reverse=True)


async def test_a_status_change_moves_the_order_between_status_indexes(store, shop):
    name = f"{shop[0]}:{shop[1]}"
    first = an_order(shop, T0)
    await store.save_many([Write(first, 0)])
    moved = first.model_copy(update={"status": PA})
    await store.save_many([Write(moved, 1, was=PP)])
    assert (await store.page(name, PP, None, 10)).order_keys == []
    assert (await store.page(name, PA, None, 10)).order_keys == [first.order_key]
    assert (await store.page(name, None, None, 10)).order_keys == [first.order_key]


async def test_an_order_without_a_status_is_listed_by_store_only_until_it_gets_one(store, shop):
    name = f"{shop[0]}:{shop[1]}"
    unpaid = an_order(shop, T0, status=None)
    await store.save_many([Write(unpaid, 0)])
    assert (await store.page(name, None, None, 10)).order_keys == [unpaid.order_key]
    await store.save_many([Write(unpaid.model_copy(update={"status": PP}), 1, was=None)])
    assert (await store.page(name, PP, None, 10)).order_keys == [unpaid.order_key]
    assert (await store.page(name, None, None, 10)).order_keys == [unpaid.order_key]


async def test_a_lost_write_leaves_the_index_as_it_was(store, shop):
    name = f"{shop[0]}:{shop[1]}"
    first = an_order(shop, T0)
    await store.save_many([Write(first, 0)])
    stale = first.model_copy(update={"status": IF})
    assert await store.save_many([Write(stale, 0, was=None)]) == {first.order_key}
    assert (await store.page(name, IF, None, 10)).order_keys == []
    assert (await store.page(name, PP, None, 10)).order_keys == [first.order_key]
