"""Settings, catalogs and templates changed through the API: persisted by core, and seen by its next decisions."""

from __future__ import annotations

from contextlib import asynccontextmanager

from schemas import FulfillmentRequested, PersonalizationRequested
from tests.builders import completed, mug, order, plain
from tests.merchant_api.conftest import LIVE, A, B, name, placed, published, settled
from tests.support import send


@asynccontextmanager
async def settings_changed(client, store, **changes):
    """PUT the store's settings with `changes`, and put the old ones back after, whatever happened."""
    path = f"/stores/{name(store)}/settings"
    before = (await client.get(path)).json()
    answer = await client.put(path, json={**before, **changes})
    assert answer.status_code == 200, answer.text
    try:
        yield answer.json()
    finally:
        assert (await client.put(path, json=before)).status_code == 200


async def test_settings_round_trip_with_durations_written_either_way(stack):
    async with stack.client(LIVE) as client:
        async with settings_changed(client, LIVE, locale="de", reminders=["2d", "P5D"], sender_name="Becher") as now:
            assert (now["locale"], now["reminders"], now["sender_name"]) == ("de", ["P2D", "P5D"], "Becher")
            assert (await client.get(f"/stores/{name(LIVE)}/settings")).json() == now
        answer = await client.put(f"/stores/{name(LIVE)}/settings", json={"merchant_email": "not an address"})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "merchant_email"]
        partial = await client.put(f"/stores/{name(LIVE)}/settings", json={"approval": "automatic"})
        assert partial.status_code == 422  # a PUT carries every setting: nothing is left to a guess


async def test_approval_switched_to_automatic_through_the_api_fulfills_the_next_order(stack):
    async with stack.client(LIVE) as client:
        manual = await placed(stack, order(LIVE, [plain()]), "pending_approval")
        async with settings_changed(client, LIVE, approval="automatic"):
            automatic = await placed(stack, order(LIVE, [plain()]), "in_fulfillment")
            assert len(await published(stack, automatic.order_key, FulfillmentRequested)) == 1
        assert (await client.get(f"/orders/{manual.order_key}")).json()["status"] == "pending_approval"


async def test_ship_plain_items_now_through_the_api_sends_two_parts(stack):
    async with stack.client(LIVE) as client, settings_changed(client, LIVE, mixed_orders="ship_plain_items_now"):
        received = await placed(stack, order(LIVE, [mug("L1"), plain("L2")]), "pending_personalization")
        await published(stack, received.order_key, FulfillmentRequested)
        await send(stack.producer, completed(received.order_key, "L1"))
        await settled(stack, received.order_key, "pending_personalization", "pending_approval")
        assert (await client.post(f"/orders/{received.order_key}/approve")).status_code == 202
        sent = await published(stack, received.order_key, FulfillmentRequested, 2)
        parts = [(e.part, [line.line_id for line in e.line_items]) for e in sent]
        assert parts == [("plain_items", ["L2"]), ("personalized_items", ["L1"])]
        body = (await client.get(f"/orders/{received.order_key}")).json()
        assert [(f["part"], f["line_ids"]) for f in body["fulfillments"]] == parts


async def test_the_link_recipient_and_branding_reach_the_next_request(stack):
    async with (
        stack.client(LIVE) as client,
        settings_changed(client, LIVE, link_recipient="customer", sender_name="Live mugs"),
    ):
        received = await placed(stack, order(LIVE, [mug()]), "pending_personalization")
        (request,) = await published(stack, received.order_key, PersonalizationRequested)
    # (A new reply_to waits for its owner's confirmation first: test_email_change.py.)
    assert request.delivery.recipient == "customer" and request.delivery.sender_name == "Live mugs"
    assert request.delivery.customer_email == "ada@example.com"


async def test_a_product_added_through_the_api_is_personalizable_from_the_next_order_and_removed_again(stack):
    poster = {"sku": "POSTER-1", "template": "name-mug"}
    line = plain("L7").model_copy(update={"sku": "POSTER-1", "product_id": "poster"})
    async with stack.client(LIVE) as client:
        catalog = (await client.put(f"/stores/{name(LIVE)}/products", json=poster)).json()
        assert poster in [{k: v for k, v in p.items() if v is not None} for p in catalog]
        received = await placed(stack, order(LIVE, [line]), "pending_personalization")
        (request,) = await published(stack, received.order_key, PersonalizationRequested)
        assert [i.line_id for i in request.items] == ["L7"]

        gone = await client.delete(f"/stores/{name(LIVE)}/products", params={"sku": "POSTER-1"})
        assert gone.status_code == 200 and all(p["sku"] != "POSTER-1" for p in gone.json())
        assert (await client.delete(f"/stores/{name(LIVE)}/products", params={"sku": "POSTER-1"})).status_code == 404
        assert (await client.delete(f"/stores/{name(LIVE)}/products")).status_code == 400
        await placed(stack, order(LIVE, [line]), "pending_approval")


async def test_templates_a_store_creates_are_its_own_and_shared_ones_need_an_operator(stack):
    engraving = {"title": "Engraving", "fields": [{"name": "text", "type": "text", "max_length": 12}]}
    async with stack.client(A) as a, stack.client(B) as b, stack.client("operator") as operator:
        created = await a.put("/templates/engraving-a", json=engraving)
        assert created.status_code == 201 and created.json()["owner"] == name(A)
        assert (await a.put("/templates/engraving-a", json={**engraving, "title": "Engraved"})).status_code == 200
        assert (await b.get("/templates/engraving-a")).status_code == 404
        assert "engraving-a" not in [t["id"] for t in (await b.get("/templates")).json()]
        assert (await b.put("/templates/engraving-a", json=engraving)).status_code == 403
        refused = await b.put(f"/stores/{name(B)}/products", json={"sku": "E", "template": "engraving-a"})
        assert refused.status_code == 409 and "engraving-a" in refused.json()["detail"]

        own = await a.put(f"/stores/{name(A)}/products", json={"sku": "E", "template": "engraving-a"})
        assert own.status_code == 200
        in_use = await a.delete("/templates/engraving-a")
        assert in_use.status_code == 409 and "woocommerce:shop-a" in in_use.json()["detail"]
        await a.delete(f"/stores/{name(A)}/products", params={"sku": "E"})
        assert (await a.delete("/templates/engraving-a")).status_code == 204
        assert (await a.get("/templates/engraving-a")).status_code == 404

        shared = (await a.get("/templates/name-mug")).json()
        assert shared["owner"] is None
        mug_template = {"title": shared["title"], "fields": shared["fields"]}
        forbidden = await a.put("/templates/name-mug", json=mug_template)
        assert forbidden.status_code == 403 and "shared" in forbidden.json()["detail"]
        assert (await operator.put("/templates/name-mug", json=mug_template)).status_code == 200
        repeated = {"title": "Twice", "fields": [{"name": "x", "type": "text"}, {"name": "x", "type": "text"}]}
        assert (await a.put("/templates/twice", json=repeated)).status_code == 422
