"""A platform order too large for one Kafka record must not fail its store's poll forever (issue 15, the High
finding): it is dead-lettered once, with its store and order id, and the poll moves on."""

from __future__ import annotations

import json

from sandboxes.base import ItemSpec, OrderSpec
from schemas import DEAD_LETTERS, DeadLetter, OrderReceived, order_key
from tests.connectors.poll_shop import Shop, Topic, make_shop, modified, shop, topic

__all__ = ["make_shop", "shop", "topic"]  # fixtures, used by name

LINES = 7500  # ~148 bytes each once mapped: an OrderReceived of 1.11 MB (over 1 MiB), from 1.8 MB of WooCommerce JSON


async def test_a_platform_order_over_one_mib_is_dead_lettered_once_and_the_stores_next_orders_still_arrive(
    shop: Shop, topic: Topic, bootstrap: str
):
    dead_letters = await Topic(bootstrap, DEAD_LETTERS).begin()
    before = shop.place(1)
    (huge,) = shop.place(1, OrderSpec(webhook=False, items=[ItemSpec(title=f"Mug {n}") for n in range(LINES)]))
    assert len(json.dumps(huge)) > 1024 * 1024
    after = shop.place(2)

    await shop.poller().poll_once()  # a stock broker's refusal failed this poll, and every one after it
    later = shop.place(1)
    await shop.poller().poll_once()  # re-reads the huge order (cursor - lookback): seen, not dead-lettered again

    assert await shop.cursor.get() == modified(later[-1])
    events = await topic.events_for(shop.store)
    assert all(isinstance(e, OrderReceived) for e in events)
    assert sorted(e.platform_order_id for e in events) == sorted(str(raw["id"]) for raw in before + after + later)
    # The connector's: a core running on the same broker dead-letters this unknown store's published orders too.
    (letter,) = [d for d in await dead_letters.events_for(shop.store) if d.consumer == "connector-woocommerce"]
    assert isinstance(letter, DeadLetter)
    assert letter.order_key == order_key("woocommerce", shop.store.store_id, str(huge["id"]))
    assert f"woocommerce order {huge['id']} of store {shop.store.key}" in letter.error
    assert "over the limit of 1,000,000 bytes" in letter.error
    assert "raw truncated" in letter.error and letter.source_topic == f"poll:{shop.store.key}"
