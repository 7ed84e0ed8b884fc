"""WooCommerce end to end: an order trashed in the store and restored is published as it goes (sandbox →
signed `order.deleted` and `order.restored` webhooks → the connector process → `orders.received`)."""

from __future__ import annotations

import pytest

from schemas import OrderReceived, OrderUpdated
from tests.connectors.stacks import STORES, Stack
from tests.support import Recorder

CREDENTIALS = STORES["woocommerce"]["credentials"]


@pytest.mark.parametrize("stack", ["woocommerce"], indirect=True)
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
    assert [d["statuses"] for d in mine] == [[202], [200]]  # queued for a fetch; published before the answer
