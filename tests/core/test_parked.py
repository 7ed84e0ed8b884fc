"""Orders that come before their store's `StoreConnected`: parked, not dead-lettered, and decided once the store
is learned, whichever of the two consumers gets there first (`core.parked`)."""

from __future__ import annotations

from datetime import timedelta

from aiokafka import ConsumerRecord

from core.directory import StaticConfig
from core.handlers import CoreHandler
from core.learned_stores import StoresHandler
from core.parked import MemoryParkedOrders, Parked, Parking, RedisParkedOrders
from core.store import MemoryOrderStore
from plumbing.consumer import Received
from schemas import StoreConnected, StoreDisconnected, encode
from tests.builders import T0, load_test_config, mug, order
from tests.support import unique_id

CONFIG = StaticConfig(load_test_config())
DELAY = timedelta(minutes=15)
LATE = ("bigcommerce", "installed-a-moment-ago")


def received(event, topic: str = "orders.received", offset: int = 0) -> Received:
    record = ConsumerRecord(topic, 0, offset, 0, 0, event.order_key.encode(), encode(event), None, 0, 0, [])
    return Received(record, event)


class Republished:
    def __init__(self) -> None:
        self.messages: list[Parked] = []

    async def __call__(self, message: Parked) -> None:
        self.messages.append(message)


class Learner:
    def __init__(self) -> None:
        self.learned: list[str] = []

    async def learn(self, event) -> None:
        self.learned.append(event.order_key)


def connected(platform: str, store_id: str) -> StoreConnected:
    return StoreConnected(
        order_key=f"{platform}:{store_id}", platform=platform, store_id=store_id, merchant_email="m@example.com"
    )


async def test_an_order_of_a_store_not_learned_yet_is_parked_and_published_again_once_it_is():
    parked, republished = MemoryParkedOrders(), Republished()
    parking = Parking(parked, republished)
    first = order(LATE, [mug()])
    outcome = await CoreHandler(MemoryOrderStore(), CONFIG, DELAY, lambda: T0, parking=parking)([received(first)])
    assert outcome.rejected == [] and outcome.outgoing == []  # neither a dead letter nor decided
    assert len(parked.lists["bigcommerce:installed-a-moment-ago"]) == 1 and republished.messages == []

    learner = Learner()
    await StoresHandler(learner, parking)([received(connected(*LATE), topic="stores")])
    (again,) = republished.messages
    assert (again.topic, again.key, again.value) == ("orders.received", first.order_key.encode(), encode(first))
    assert learner.learned == ["bigcommerce:installed-a-moment-ago"]
    assert parked.lists["bigcommerce:installed-a-moment-ago"] == []  # published again: not kept


async def test_a_store_learned_while_its_order_was_being_parked_gets_it_published_by_the_handler():
    parked, republished = MemoryParkedOrders(), Republished()
    parking = Parking(parked, republished)

    async def known(platform: str, store_id: str) -> object | None:
        return object()  # the learner wrote the store after this batch read its config, and looked before the park

    handler = CoreHandler(MemoryOrderStore(), CONFIG, DELAY, lambda: T0, parking=parking, known=known)
    await handler([received(order(LATE, [mug()]))])
    assert len(republished.messages) == 1 and parked.lists["bigcommerce:installed-a-moment-ago"] == []


async def test_past_the_limit_an_unknown_stores_orders_are_dead_lettered_and_a_disconnect_releases_nothing():
    parked, republished = MemoryParkedOrders(max_per_store=2), Republished()
    parking = Parking(parked, republished)
    handler = CoreHandler(MemoryOrderStore(), CONFIG, DELAY, lambda: T0, parking=parking)
    outcome = await handler([received(order(LATE, [mug()]), offset=n) for n in range(3)])
    ((_, reason),) = outcome.rejected
    assert "unknown store bigcommerce:installed-a-moment-ago" in reason and "parked already" in reason
    gone = StoreDisconnected(
        order_key="bigcommerce:installed-a-moment-ago", platform="bigcommerce", store_id=LATE[1], reason="r"
    )
    await StoresHandler(Learner(), parking)([received(gone, topic="stores")])
    assert republished.messages == []


async def test_the_redis_park_keeps_messages_in_order_bytes_intact_until_released(redis):
    store = f"etsy:{unique_id()}"
    park = RedisParkedOrders(redis, max_per_store=2)
    one, two = Parked("orders.received", b"k1", b"\x00\xff{}"), Parked("orders.received", None, b"two")
    assert await park.park(store, one) and await park.park(store, two)
    assert not await park.park(store, Parked("orders.received", b"k3", b"three"))  # full
    assert await park.parked(store) == [one, two]
    await park.release(store, 1)
    assert await park.parked(store) == [two]
    assert 0 < await redis.ttl("core:parked:" + store) <= 7 * 86400  # a store never learned does not stay forever
