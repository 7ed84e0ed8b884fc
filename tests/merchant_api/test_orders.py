"""Orders through the API: listing, one order in full, and the commands with their refusals."""

from __future__ import annotations

from datetime import timedelta

from schemas import (
    ApproveOrder,
    CancelOrder,
    FulfillmentRequested,
    PersonalizationLinkIssued,
    PersonalizationLinkOpened,
    PersonalizationReminderSent,
    PersonalizationRequested,
    ResendLink,
)
from tests.builders import T0, completed, mug, order, plain
from tests.merchant_api.conftest import LISTED, A, eventually, name, placed, published, settled
from tests.support import send


async def test_listing_pages_newest_first_and_filters_by_status(stack):
    orders = [
        await placed(stack, order(LISTED, [mug()], at=T0 + timedelta(minutes=i)), "pending_personalization")
        for i in range(5)
    ]
    await send(stack.producer, ApproveOrder(order_key=orders[1].order_key))
    await settled(stack, orders[1].order_key, "pending_personalization", "in_fulfillment")

    async with stack.client(LISTED) as client:
        seen, cursor = [], None
        while True:
            page = (await client.get("/orders", params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
            assert len(page["orders"]) <= 2
            seen += [o["order_key"] for o in page["orders"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [o.order_key for o in reversed(orders)]

        pending = (await client.get("/orders", params={"status": "pending_personalization"})).json()
        assert [o["order_key"] for o in pending["orders"]] == [o.order_key for o in reversed(orders) if o != orders[1]]
        shipped = (await client.get("/orders", params={"status": "in_fulfillment"})).json()["orders"]
        assert [(o["order_key"], o["status"]) for o in shipped] == [(orders[1].order_key, "in_fulfillment")]

        assert (await client.get("/orders", params={"cursor": "not a cursor"})).status_code == 400
        assert (await client.get("/orders", params={"status": "shipped"})).status_code == 422
        assert (await client.get("/orders", params={"limit": 1000})).status_code == 422


async def test_one_order_shows_its_items_lines_history_links_personalization_and_parts(stack):
    received = await placed(stack, order(A, [mug("L1"), plain("L2")]), "pending_personalization")
    key = received.order_key
    expires = T0 + timedelta(days=7)
    link = {
        "order_key": key,
        "link_id": "link-1",
        "sequence": 1,
        "store_id": received.store_id,
        "platform": received.platform,
    }
    (request,) = await published(stack, key, PersonalizationRequested)
    await send(
        stack.producer,
        PersonalizationLinkIssued(
            **link,
            occurred_at=T0,
            url="http://editor/p/secret",
            expires_at=expires,
            merchant_email="a@example.com",
            order_number=received.order_number,
            items=request.items,
        ),
        PersonalizationLinkOpened(**link, occurred_at=T0 + timedelta(hours=2)),
        PersonalizationReminderSent(
            **link, occurred_at=T0 + timedelta(days=3), reminder=1, recipient="merchant", expires_at=expires
        ),
    )
    async with stack.client(A) as client:

        async def links():
            return (await client.get(f"/orders/{key}")).json()["links"]

        shown = await eventually(links, lambda ls: ls and ls[0]["reminders_sent"] == 1 and ls[0]["opened_at"])
        assert shown[0]["state"] == "opened" and shown[0]["recipient"] == "merchant"
        await send(stack.producer, completed(key, "L1", name="Grace"))
        await settled(stack, key, "pending_personalization", "pending_approval")
        body = (await client.get(f"/orders/{key}")).json()
    assert body["status"] == "pending_approval" and body["store"] == name(A)
    assert [i["line_id"] for i in body["items"]] == ["L1", "L2"] and body["personalize_lines"] == ["L1"]
    assert [(h["from_status"], h["to_status"]) for h in body["history"]] == [
        (None, "pending_personalization"),
        ("pending_personalization", "pending_approval"),
    ]
    (shown,) = body["links"]
    assert shown["state"] == "completed" and shown["reminders_sent"] == 1
    assert shown["opened_at"].startswith("2026-11-27T14:00") and shown["expires_at"].startswith("2026-12-04")
    assert "url" not in shown  # the link's token stays with the notifier and the editor
    assert body["personalization"][0]["fields"]["name"] == "Grace"
    assert body["personalized_at"] is not None and body["fulfillments"] == []


async def test_approve_publishes_the_command_answers_its_event_id_and_core_fulfills(stack):
    received = await placed(stack, order(A, [plain()]), "pending_approval")
    async with stack.client(A) as client:
        answer = await client.post(f"/orders/{received.order_key}/approve", json={"reason": "checked by phone"})
        assert answer.status_code == 202
        accepted = answer.json()
        assert accepted["command"] == "ApproveOrder" and accepted["order_key"] == received.order_key
        await published(stack, received.order_key, FulfillmentRequested)
        (command,) = await published(stack, received.order_key, ApproveOrder)
        assert command.event_id == accepted["event_id"] and command.reason == "checked by phone"
        body = (await client.get(f"/orders/{received.order_key}")).json()
        assert body["status"] == "in_fulfillment" and body["history"][-1]["reason"].endswith("checked by phone")
        assert [(f["part"], f["line_ids"]) for f in body["fulfillments"]] == [("whole_order", ["L2"])]

        again = await client.post(f"/orders/{received.order_key}/approve")
        assert again.status_code == 409
        assert again.json()["detail"].startswith("cannot approve an order that is in_fulfillment")


async def test_cancel_then_every_command_is_refused_with_its_reason(stack):
    received = await placed(stack, order(A, [mug()]), "pending_personalization")
    async with stack.client(A) as client:
        answer = await client.post(f"/orders/{received.order_key}/cancel")
        assert answer.status_code == 202 and answer.json()["command"] == "CancelOrder"
        await settled(stack, received.order_key, "pending_personalization", "cancelled")
        refusals = {
            command: (await client.post(f"/orders/{received.order_key}/{command}")).json()["detail"]
            for command in ("approve", "cancel", "resend-link")
        }
    assert refusals == {
        "approve": "cannot approve an order that is cancelled: only orders pending personalization or pending "
        "approval can be approved",
        "cancel": "cannot cancel an order that is cancelled",
        "resend-link": "no link to resend for an order that is cancelled: links are sent only while an order is "
        "pending personalization",
    }
    assert len(await published(stack, received.order_key, CancelOrder)) == 1


async def test_resend_link_asks_core_for_a_request_due_now_and_is_refused_once_personalized(stack):
    received = await placed(stack, order(A, [mug()]), "pending_personalization")
    async with stack.client(A) as client:
        answer = await client.post(f"/orders/{received.order_key}/resend-link")
        assert answer.status_code == 202 and answer.json()["command"] == "ResendLink"
        requests = await published(stack, received.order_key, PersonalizationRequested, 2)
        assert [e.trigger for e in requests] == ["order_received", "resend_requested"]
        assert [e.event_id for e in await published(stack, received.order_key, ResendLink)] == [
            answer.json()["event_id"]
        ]

        await send(stack.producer, completed(received.order_key, "L1"))
        await settled(stack, received.order_key, "pending_personalization", "pending_approval")
        refused = await client.post(f"/orders/{received.order_key}/resend-link", json={"reason": "lost it"})
        assert refused.status_code == 409 and "pending_approval" in refused.json()["detail"]


async def test_unknown_orders_are_404_and_a_bad_body_is_422(stack):
    async with stack.client(A) as client:
        assert (await client.get("/orders/woocommerce:shop-a:nope")).status_code == 404
        assert (await client.post("/orders/nonsense/approve")).status_code == 404
        received = await placed(stack, order(A, [plain()]), "pending_approval")
        answer = await client.post(f"/orders/{received.order_key}/cancel", json={"reason": "x" * 501})
        assert answer.status_code == 422
        assert (await client.post(f"/orders/{received.order_key}/cancel", json={"why": "x"})).status_code == 422
