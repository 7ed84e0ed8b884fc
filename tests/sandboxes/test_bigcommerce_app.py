"""The BigCommerce sandbox's app install and hooks API, as the docs describe them: one-use codes bound to the
registered Auth callback and the store, JSON or form token requests, HS256 signed payloads, per-client hooks."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.bigcommerce import SANDBOX

CLIENT_ID, SECRET, HASH = "sbx-client", "sbx-client-secret-0123456789abcdef01", "st0re1"
CALLBACK = "https://app.example.com/connect/bigcommerce/callback"


@pytest.fixture
async def bigcommerce() -> httpx.AsyncClient:
    store = StoreConfig(
        platform="bigcommerce",
        store_id="sbx",
        merchant_email="owner@example.com",
        base_url="https://api.bigcommerce.com/stores/st0re1",
        credentials={"store_hash": HASH, "client_id": CLIENT_ID, "access_token": "yaml-token"},
        webhook_secret=SECRET,
    )
    app = make_sandbox_app(SANDBOX, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bc") as client:
        await client.post("/_sandbox/oauth", json={"redirect_uris": [CALLBACK]})
        yield client


async def code_for(bc: httpx.AsyncClient) -> dict[str, str]:
    consented = await bc.post(f"/app/{CLIENT_ID}/install", data={"decision": "install"})
    assert consented.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(consented.headers["location"]).query).items()}


def exchange_body(query: dict[str, str], **changes: str) -> dict[str, str]:
    body = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code": query["code"],
        "scope": query["scope"],
        "context": query["context"],
        "grant_type": "authorization_code",
        "redirect_uri": CALLBACK,
    }
    return {**body, **changes}


async def test_a_code_is_exchanged_once_as_json_or_form_and_the_token_answers_the_api(bigcommerce) -> None:
    query = await code_for(bigcommerce)
    assert query["context"] == f"stores/{HASH}" and query["account_uuid"]
    answer = await bigcommerce.post("/oauth2/token", data=exchange_body(query))  # form, as older clients send it
    assert answer.status_code == 200
    token = answer.json()
    assert token["context"] == f"stores/{HASH}" and token["owner"]["email"] == "owner@example.com"
    listed = await bigcommerce.get(f"/stores/{HASH}/v2/orders", headers={"X-Auth-Token": token["access_token"]})
    assert listed.status_code == 200
    again = await bigcommerce.post("/oauth2/token", json=exchange_body(query))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"client_secret": "wrong"}, 401),
        ({"client_id": "other-app"}, 401),
        ({"redirect_uri": "https://evil.example/cb"}, 400),
        ({"context": "stores/other1"}, 400),
        ({"grant_type": "refresh_token"}, 400),
    ],
)
async def test_the_token_endpoint_refuses_a_wrong_app_callback_or_store_and_the_code_is_spent(
    bigcommerce, changes: dict[str, str], status: int
) -> None:
    query = await code_for(bigcommerce)
    refused = await bigcommerce.post("/oauth2/token", json=exchange_body(query, **changes))
    assert refused.status_code == status
    if status == 400 and "grant_type" not in changes:  # the code was taken: the right request fails too now
        assert (await bigcommerce.post("/oauth2/token", json=exchange_body(query))).status_code == 400


async def test_the_install_page_of_another_app_is_not_found(bigcommerce) -> None:
    assert (await bigcommerce.get("/app/someone-else/install")).status_code == 404
    assert (await bigcommerce.get(f"/app/{CLIENT_ID}/install")).status_code == 200


async def test_the_load_payload_is_hs256_with_the_client_secret_for_24_hours(bigcommerce) -> None:
    await bigcommerce.post("/_sandbox/oauth", json={"load_url": "https://app.example.com/load"})
    opened = await bigcommerce.get("/_sandbox/app/load")
    token = parse_qs(urlsplit(opened.headers["location"]).query)["signed_payload_jwt"][0]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=CLIENT_ID, issuer="bc")
    assert claims["sub"] == f"stores/{HASH}" and claims["exp"] - claims["iat"] == 86400 and claims["jti"]


async def test_hooks_one_per_scope_and_destination_and_https_443_when_asked(bigcommerce) -> None:
    auth = {"X-Auth-Token": "yaml-token"}
    hook = {"scope": "store/order/created", "destination": "https://app.example.com/webhooks/bigcommerce/x"}
    assert (await bigcommerce.post("/v3/hooks", json=hook, headers=auth)).status_code == 200
    assert (await bigcommerce.post("/v3/hooks", json=hook, headers=auth)).status_code == 422
    await bigcommerce.post("/_sandbox/hooks", json={"https_only": True})
    plain = {**hook, "destination": "http://app.example.com:8080/hooks"}
    assert (await bigcommerce.post("/v3/hooks", json=plain, headers=auth)).status_code == 422
    assert (await bigcommerce.post("/v3/hooks", json=hook, headers={"X-Auth-Token": "nope"})).status_code == 401
    listed = (await bigcommerce.get("/v3/hooks", params={"is_active": "true"}, headers=auth)).json()
    assert [h["scope"] for h in listed["data"]] == ["store/order/created"] and listed["meta"]["pagination"][
        "total"
    ] == 1


async def test_the_apps_token_reaches_orders_and_the_catalog_at_the_stores_address_until_uninstalled(
    bigcommerce,
) -> None:
    query = await code_for(bigcommerce)
    token = (await bigcommerce.post("/oauth2/token", json=exchange_body(query))).json()["access_token"]
    auth = {"X-Auth-Token": token}
    product = {"name": "Name mug", "type": "physical", "weight": 0, "price": 14.5}
    created = await bigcommerce.post(f"/stores/{HASH}/v3/catalog/products", json=product, headers=auth)
    assert created.status_code == 200 and created.json()["data"]["name"] == "Name mug"
    hook = {"scope": "store/order/*", "destination": "https://app.example.com/hooks"}
    assert (await bigcommerce.post(f"/stores/{HASH}/v3/hooks", json=hook, headers=auth)).json()["data"][
        "headers"
    ] is None
    done = (await bigcommerce.post("/_sandbox/app/uninstall")).json()
    assert done == {"uninstall_callback": "no uninstall callback registered", "hooks_deleted": 1}
    assert (await bigcommerce.get(f"/stores/{HASH}/v2/orders", headers=auth)).status_code == 401
    assert (
        await bigcommerce.get(f"/stores/{HASH}/v2/orders", headers={"X-Auth-Token": "yaml-token"})
    ).status_code == 200
