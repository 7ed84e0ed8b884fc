"""WooCommerce end to end: an order trashed in the store and restored is published as it goes (sandbox →
signed `order.deleted` and `order.restored` webhooks → the connector process → `orders.received`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from schemas import OrderReceived, OrderUpdated
from tests.connectors.stacks import STORES, Stack, running_stack
from tests.support import Recorder, unique_id

pytestmark = pytest.mark.integration  # a connector process of its own

CREDENTIALS = STORES["woocommerce"]["credentials"]


@pytest.fixture(scope="module")
async def stack(bootstrap, redis_url, topics, tmp_path_factory) -> AsyncIterator[Stack]:
    # A store of its own: the session's end-to-end stack numbers its orders from 5001 too, on the same Redis.
    folder = tmp_path_factory.mktemp("woocommerce-trash")
    async with running_stack("woocommerce", folder, bootstrap, redis_url, store_id=f"trash-{unique_id()}") as built:
        yield built


async def test_a_trashed_then_restored_order_is_published_cancelled_then_revived(stack: Stack, recorder: Recorder):
    await stack.webhooks(enabled=True)
    placed = await stack.place(items=[{**STORES["woocommerce"]["item"], "buyer_text": "Ada"}])
    key = stack.order_key(placed["id"])
    await recorder.wait_for(key, lambda events: any(isinstance(e, OrderReceived) for e in events))

    orders = f"{stack.sandbox.url}/wp-json/wc/v3/orders/{placed['id']}"
    trashed = await stack.http.delete(orders, auth=(CREDENTIALS["consumer_key"], CREDENTIALS["consumer_secret"]))
    assert trashed.json()["status"] == "trash"
    await recorder.wait_for(key, lambda events: any(isinstance(e, OrderUpdated) and e.cancelled for e in events))

    restored = await stack.http.post(f"{stack.sandbox.url}/_sandbox/orders/{placed['id']}/restore")
    assert restored.json()["status"] == "processing"
    events = await recorder.wait_for(key, lambda events: len([e for e in events if isinstance(e, OrderUpdated)]) >= 2)
    updates = [e for e in events if isinstance(e, OrderUpdated)]
    assert [(e.cancelled, e.payment_status) for e in updates] == [(True, "paid"), (False, "paid")]
    mine = [
        d for d in stack.state.deliveries if d["order_id"] == placed["id"] and d["event"] in ("deleted", "restored")
    ]
    assert [d["statuses"] for d in mine] == [[200], [200]]  # queued for a fetch; published before the answer
