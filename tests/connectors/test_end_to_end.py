"""Every built platform, end to end: sandbox store → signed webhooks and polls → connector → `orders.received`.

No order missed, none published twice as new, every one mapped; tampered
signatures refused. Runs once per platform in `stacks.STORES` that has an
adapter and a sandbox.
"""

from __future__ import annotations

import asyncio
import copy

import httpx
import pytest

from sandboxes.main import sandbox_for
from schemas import DeadLetter, OrderReceived, OrderUpdated
from tests.connectors.stacks import STORES, Stack, built_platforms
from tests.support import Recorder, count

QUIET = 2.5  # > 2 poll intervals: long enough for a duplicate to show up if there were one


def personalizable(stack: Stack, buyer_text: str | None = "Ada", quantity: int = 2) -> dict:
    return {**STORES[stack.platform]["item"], "quantity": quantity, "buyer_text": buyer_text, "price": "14.50"}


def plain_item() -> dict:
    return {"product_id": "7", "title": "Plain tote", "price": "9.00", "quantity": 1}


async def received(recorder: Recorder, key: str, n: int = 1, kind=OrderReceived) -> list:
    await recorder.wait_for(key, lambda events: sum(isinstance(e, kind) for e in events) >= n)
    await asyncio.sleep(QUIET)
    return recorder.events(key, kind)


async def test_a_webhook_order_arrives_once_mapped(stack: Stack, recorder: Recorder):
    await stack.webhooks(enabled=True)
    placed = await stack.place(
        items=[personalizable(stack), plain_item()], customer_name="Grace Hopper", customer_email="grace@example.com"
    )
    (event,) = await received(recorder, stack.order_key(placed["id"]))
    assert event.platform == stack.platform and event.store_id == stack.store_id
    assert event.payment_status == "paid" and not event.cancelled and not event.is_test
    mug = next(line for line in event.line_items if line.buyer_personalization)
    assert mug.buyer_personalization == "Ada" and mug.quantity == 2 and mug.unit_price == "14.50"
    assert len(event.line_items) == 2
    assert event.customer.name == "Grace Hopper"


async def test_duplicate_webhooks_and_the_poll_publish_one_order(stack: Stack, recorder: Recorder):
    await stack.webhooks(enabled=True, duplicates=2)
    placed = await stack.place(items=[personalizable(stack)])
    await stack.redeliver(placed["id"], event="created", times=2)
    assert len(await received(recorder, stack.order_key(placed["id"]))) == 1
    await stack.webhooks(enabled=True)


async def test_an_order_whose_webhook_was_lost_is_found_by_the_poll(stack: Stack, recorder: Recorder):
    await stack.webhooks(enabled=True, drop=1)
    placed = await stack.place(items=[personalizable(stack)], test=True)
    (event,) = await received(recorder, stack.order_key(placed["id"]))
    assert event.is_test == _platform(stack).has_test_flag


async def test_a_cancellation_is_one_order_updated_and_an_old_redelivery_changes_nothing(
    stack: Stack, recorder: Recorder
):
    await stack.webhooks(enabled=True)
    placed = await stack.place(items=[personalizable(stack)])
    key = stack.order_key(placed["id"])
    await received(recorder, key)
    before = copy.deepcopy(stack.state.orders[placed["id"]])
    await stack.set_status(placed["id"], "cancelled")
    (update,) = await received(recorder, key, kind=OrderUpdated)
    assert update.cancelled or update.payment_status == "refunded"
    # A retry of the older version arrives after the newer one (Wix and BigCommerce reorder retries).
    headers, body = _platform(stack).webhook(stack.state, before, "created", thin=False)
    assert (await stack.http.post(stack.webhook_url, content=body, headers=headers)).status_code < 300
    await asyncio.sleep(QUIET)
    assert count(recorder.events(key), OrderReceived) == 1 and count(recorder.events(key), OrderUpdated) == 1


# Squarespace creates an order only once it is paid, so it has no unpaid order to send.
@pytest.mark.parametrize("stack", [p for p in built_platforms() if sandbox_for(p).has_unpaid_orders], indirect=True)
async def test_an_unpaid_order_then_paid_is_received_then_updated(stack: Stack, recorder: Recorder):
    await stack.webhooks(enabled=True)
    placed = await stack.place(items=[personalizable(stack)], paid=False)
    key = stack.order_key(placed["id"])
    (first,) = await received(recorder, key)
    assert first.payment_status == "unpaid"
    await stack.set_status(placed["id"], "paid")
    (update,) = await received(recorder, key, kind=OrderUpdated)
    assert update.payment_status == "paid"


async def test_a_tampered_or_unsigned_webhook_gets_401_and_publishes_nothing(stack: Stack, recorder: Recorder):
    await stack.webhooks(enabled=False)
    placed = await stack.place(items=[personalizable(stack)], webhook=False)
    key = stack.order_key(placed["id"])
    await stack.webhooks(enabled=True)
    assert await stack.redeliver(placed["id"], event="created", tamper=True) == [401]
    forged_headers, forged = _platform(stack).unsigned_webhook(stack.state, stack.state.orders[placed["id"]], "created")
    assert (await stack.http.post(stack.webhook_url, content=forged, headers=forged_headers)).status_code == 401
    headers, body = _platform(stack).webhook(stack.state, stack.state.orders[placed["id"]], "created", thin=False)
    wrong_store = stack.webhook_url.replace(stack.store_id, "someone-else")
    assert (await stack.http.post(wrong_store, content=body, headers=headers)).status_code == 404
    # The poll still finds it: refusing the webhook loses nothing.
    assert len(await received(recorder, key)) == 1


async def test_rate_limits_and_server_errors_are_ridden_out(stack: Stack, recorder: Recorder):
    await stack.webhooks(enabled=False)
    await stack.faults(rate_limit=3, server_error=2, retry_after=0.2)
    placed = await stack.place(items=[personalizable(stack)], webhook=False)
    assert len(await received(recorder, stack.order_key(placed["id"]))) == 1
    await stack.webhooks(enabled=True)


async def test_the_health_and_metrics_endpoints_answer_on_the_ops_port(stack: Stack):
    assert (await stack.http.get(f"{stack.ops_url}/health")).status_code == 200
    metrics = (await stack.http.get(f"{stack.ops_url}/metrics")).text
    assert "connector_webhooks_total" in metrics and "connector_orders_published_total" in metrics


async def test_the_documented_example_orders_are_read_by_the_first_poll(stack: Stack, recorder: Recorder):
    assert stack.state.seeded
    for order_id in stack.state.seeded:
        events = await recorder.wait_for(
            stack.order_key(order_id),
            lambda es: bool(es) and (any(isinstance(e, (OrderReceived, DeadLetter)) for e in es)),
        )
        assert count(events, OrderReceived) == 1


def _platform(stack: Stack):
    return sandbox_for(stack.platform)


async def test_a_verified_body_we_cannot_read_is_dead_lettered_with_2xx(stack: Stack, recorder: Recorder):
    from connectors.registry import adapter_for

    adapter = adapter_for(stack.platform)
    store = stack.state.store
    bodies = _unreadable_bodies(stack)
    for headers, body in bodies:
        adapter.verify_webhook(store, httpx.Headers(headers), body)  # the body is validly signed...
        response = await stack.http.post(stack.webhook_url, content=body, headers=headers)
        assert 200 <= response.status_code < 300  # ...so the platform must not disable the hook
    await recorder.wait_for(f"{stack.platform}:{stack.store_id}:unknown", lambda es: count(es, DeadLetter) >= 1)


def _unreadable_bodies(stack: Stack) -> list[tuple[dict, bytes]]:
    """Signed bodies that are not orders; each platform's sandbox signs them the platform's way."""
    platform = _platform(stack)
    return [platform.sign_raw(stack.state, b'{"unexpected": true}', event="created")]
