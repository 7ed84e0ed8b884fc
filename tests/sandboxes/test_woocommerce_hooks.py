"""The WooCommerce sandbox's webhooks as WooCommerce keeps them: created and pinged, listed by status, updated,
deleted only with force, deliveries signed with each webhook's own secret, and disabled on the 7th consecutive
failure (a success resets the count; setting it active again does not)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.woocommerce import SANDBOX, WEBHOOKS
from sandboxes.woocommerce_hooks import signature

STORE = StoreConfig(
    platform="woocommerce",
    store_id="hooks-shop",
    merchant_email="m@example.com",
    base_url="https://shop.example.com",
    credentials={"consumer_key": "ck_yaml", "consumer_secret": "cs_yaml"},
)
KEYS = ("ck_yaml", "cs_yaml")
URL = "https://app.example.com/webhooks/woocommerce/hooks-shop"


class Receiver:
    def __init__(self) -> None:
        self.answer: int | str = 200
        self.got: list[tuple[str, bytes, dict[str, str]]] = []

    async def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int | str:
        self.got.append((url, body, headers))
        return self.answer


@pytest.fixture
def shop():
    app = make_sandbox_app(SANDBOX, STORE)
    receiver = Receiver()
    SANDBOX.hooks(app.state.sandbox).post = receiver
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://shop.example.com")
    return http, receiver


async def place(http: httpx.AsyncClient) -> None:
    """An order placed; its `order.created` deliveries (sent in the background, as WooCommerce's Action
    Scheduler does) are made before this returns."""
    app = http._transport.app  # type: ignore[attr-defined]
    hooks = SANDBOX.hooks(app.state.sandbox)
    expected = len(hooks.deliveries) + sum(
        1 for h in hooks.hooks.values() if h.status == "active" and h.topic == "order.created"
    )
    await http.post("/_sandbox/orders", json={})
    for _ in range(200):
        if len(hooks.deliveries) >= expected:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the deliveries were not made")


async def create(http: httpx.AsyncClient, **spec) -> dict:
    body = {"name": "ours", "topic": "order.created", "delivery_url": URL, "secret": "s3cret", **spec}
    created = await http.post(WEBHOOKS, json=body, auth=KEYS)
    assert created.status_code == 201 and created.headers["location"].endswith(str(created.json()["id"]))
    return created.json()


async def hook(http: httpx.AsyncClient, hook_id: int) -> dict:
    listed = (await http.get("/_sandbox/hooks")).json()["hooks"]
    return next(h for h in listed if h["id"] == hook_id)


async def test_a_webhook_is_pinged_on_creation_and_its_secret_never_read_back(shop) -> None:
    http, receiver = shop
    made = await create(http)
    assert "secret" not in made
    [(url, body, headers)] = receiver.got
    assert (url, body) == (URL, f"webhook_id={made['id']}".encode()) and "X-WC-Webhook-Signature" not in headers
    assert (await hook(http, made["id"]))["pending_delivery"] is False

    receiver.answer = 204  # deliver_ping wants exactly 200: saved all the same, still pending
    other = await create(http, topic="order.updated")
    assert (await hook(http, other["id"]))["pending_delivery"] is True


@pytest.mark.parametrize(
    "spec", [{"topic": "order.paid"}, {"delivery_url": "ftp://x"}, {"topic": None}], ids=["topic", "url", "none"]
)
async def test_an_invalid_topic_or_url_is_refused_400(shop, spec) -> None:
    http, _ = shop
    body = {"topic": "order.created", "delivery_url": URL, **spec}
    assert (await http.post(WEBHOOKS, json=body, auth=KEYS)).status_code == 400


async def test_webhooks_are_listed_by_status_updated_and_deleted_only_with_force(shop) -> None:
    http, _ = shop
    first, second = await create(http), await create(http, topic="order.updated")
    paused = await http.put(f"{WEBHOOKS}/{second['id']}", json={"status": "paused"}, auth=KEYS)
    assert paused.json()["status"] == "paused"
    listed = await http.get(WEBHOOKS, params={"status": "paused"}, auth=KEYS)
    assert [h["id"] for h in listed.json()] == [second["id"]] and listed.headers["x-wp-total"] == "1"
    assert len((await http.get(WEBHOOKS, params={"status": "all"}, auth=KEYS)).json()) == 2
    assert (await http.delete(f"{WEBHOOKS}/{first['id']}", auth=KEYS)).status_code == 501
    assert (await http.delete(f"{WEBHOOKS}/{first['id']}", params={"force": "true"}, auth=KEYS)).status_code == 200
    assert [h["id"] for h in (await http.get(WEBHOOKS, auth=KEYS)).json()] == [second["id"]]


async def test_the_7th_consecutive_failed_delivery_disables_the_webhook(shop) -> None:
    http, receiver = shop
    made = await create(http)
    receiver.answer = 500
    for failures in range(1, 7):
        await place(http)
        assert (await hook(http, made["id"]))["status"] == "active", failures  # six failures: still active
    await place(http)
    disabled = await hook(http, made["id"])
    assert (disabled["status"], disabled["failure_count"]) == ("disabled", 6)
    delivered = len(receiver.got)
    await place(http)
    assert len(receiver.got) == delivered  # a disabled webhook delivers nothing

    # Set active again by the API: the count stays, so the next failure disables it at once.
    await http.put(f"{WEBHOOKS}/{made['id']}", json={"status": "active"}, auth=KEYS)
    await place(http)
    assert (await hook(http, made["id"]))["status"] == "disabled"


async def test_a_success_resets_the_count_and_deliveries_are_signed_with_the_webhooks_secret(shop) -> None:
    http, receiver = shop
    made = await create(http, secret="own-secret")
    receiver.answer = 500
    for _ in range(5):
        await place(http)
    receiver.answer = 200
    await place(http)
    assert (await hook(http, made["id"]))["failure_count"] == 0
    _, body, headers = receiver.got[-1]
    assert headers["X-WC-Webhook-Topic"] == "order.created" and headers["X-WC-Webhook-ID"] == str(made["id"])
    assert headers["X-WC-Webhook-Signature"] == signature("own-secret", body)


async def test_failed_deliveries_can_be_caused_by_a_control(shop) -> None:
    http, receiver = shop
    made = await create(http)
    await http.post("/_sandbox/hooks/fail", json={"next": 7})
    for _ in range(7):
        await place(http)
    assert (await hook(http, made["id"]))["status"] == "disabled"
    assert len(receiver.got) == 1  # only the ping reached the receiver
