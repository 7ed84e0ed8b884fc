"""The WooCommerce sandbox's key delivery (`/wc-auth/v1/authorize`) and API keys, as WC_Auth and
WC_REST_Authentication run them: validation in WooCommerce's words, Approve POSTs the keys before the browser is
sent back, a refused POST deletes the key, Deny goes back with success=0, keys carry permissions and can be
revoked (401)."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.woocommerce import AUTH_PATH, SANDBOX, WEBHOOKS

STORE = StoreConfig(
    platform="woocommerce",
    store_id="auth-shop",
    merchant_email="m@example.com",
    base_url="https://shop.example.com",
    credentials={"consumer_key": "ck_yaml", "consumer_secret": "cs_yaml"},
)
QUERY = {
    "app_name": "personalize",
    "scope": "read_write",
    "user_id": "state-123",
    "return_url": "https://app.example.com/connect/woocommerce/callback?ticket=t-1",
    "callback_url": "https://app.example.com/connect/woocommerce/keys",
}


class Callback:
    """Our side of the POST: what it received, and what it answers."""

    def __init__(self, answer: int | str = 200) -> None:
        self.answer, self.received = answer, []

    async def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int | str:
        self.received.append((url, json.loads(body), headers))
        return self.answer


@pytest.fixture
def shop():
    app = make_sandbox_app(SANDBOX, STORE)
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://shop.example.com")


def link(page: str, name: str) -> str:
    return unescape(re.search(rf'href="([^"]+)" class="[^"]*wc-auth-{name}"', page).group(1))


async def approve(http: httpx.AsyncClient, callback: Callback) -> httpx.Response:
    SANDBOX.keys(http._transport.app.state.sandbox).post = callback  # type: ignore[attr-defined]
    page = await http.get(AUTH_PATH, params=QUERY)
    assert page.status_code == 200 and "personalize would like to connect to your store" in page.text
    return await http.get(link(page.text, "approve"))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"scope": ""}, "Missing parameter scope"),
        ({"scope": "admin"}, "Invalid scope admin"),
        ({"callback_url": "http://app.example.com/keys"}, "The callback_url needs to be over SSL"),
        ({"return_url": "https://"}, "is not a valid URL"),
    ],
)
async def test_an_authorize_request_woocommerce_refuses_is_a_401_error_page(shop, change, error) -> None:
    _, http = shop
    answer = await http.get(AUTH_PATH, params={**QUERY, **change})
    assert answer.status_code == 401 and error in answer.text


async def test_approve_posts_the_keys_then_sends_the_browser_back_with_success(shop) -> None:
    _, http = shop
    callback = Callback(200)
    back = await approve(http, callback)
    [(url, body, headers)] = callback.received  # the POST came first, before the redirect was answered
    assert url == QUERY["callback_url"] and headers["Content-Type"].startswith("application/json")
    assert set(body) == {"key_id", "user_id", "consumer_key", "consumer_secret", "key_permissions"}
    assert body["user_id"] == "state-123" and body["key_permissions"] == "read_write"
    assert re.fullmatch(r"ck_[0-9a-f]{40}", body["consumer_key"]) and body["consumer_secret"].startswith("cs_")
    assert back.status_code == 302
    location = urlsplit(back.headers["location"])
    assert parse_qs(location.query) == {"ticket": ["t-1"], "success": ["1"], "user_id": ["state-123"]}
    orders = await http.get("/wp-json/wc/v3/orders", auth=(body["consumer_key"], body["consumer_secret"]))
    assert orders.status_code == 200  # the new key works on the REST API


@pytest.mark.parametrize("answer", [201, 500, "ConnectError"])
async def test_a_key_post_not_answered_200_deletes_the_key_and_sends_no_one_back(shop, answer) -> None:
    _, http = shop
    callback = Callback(answer)
    failed = await approve(http, callback)
    assert failed.status_code == 401 and "Error:" in failed.text and "location" not in failed.headers
    [(_, body, _)] = callback.received
    orders = await http.get("/wp-json/wc/v3/orders", auth=(body["consumer_key"], body["consumer_secret"]))
    assert orders.status_code == 401  # maybe_delete_key: the key is gone


async def test_deny_goes_back_with_success_0_and_posts_nothing(shop) -> None:
    _, http = shop
    page = await http.get(AUTH_PATH, params=QUERY)
    deny = urlsplit(link(page.text, "deny"))
    assert parse_qs(deny.query) == {"ticket": ["t-1"], "success": ["0"], "user_id": ["state-123"]}
    assert SANDBOX.keys(http._transport.app.state.sandbox).posts == []


async def test_approve_without_the_pages_nonce_is_refused(shop) -> None:
    _, http = shop
    answer = await http.get("/wc-auth/v1/access_granted", params={**QUERY, "wc_auth_nonce": "guessed"})
    assert answer.status_code == 401 and "Invalid nonce verification" in answer.text


async def test_a_revoked_key_answers_401_and_a_read_key_cannot_create_webhooks(shop) -> None:
    app, http = shop
    keys = SANDBOX.keys(app.state.sandbox)
    read_only = keys.add("ck_readonly", "cs_readonly", "read", "read only")
    ok = await http.get("/wp-json/wc/v3/orders", auth=("ck_readonly", "cs_readonly"))
    assert ok.status_code == 200
    spec = {"topic": "order.created", "delivery_url": "https://app.example.com/webhooks/woocommerce/x"}
    refused = await http.post(WEBHOOKS, json=spec, auth=("ck_readonly", "cs_readonly"))
    assert refused.status_code == 401 and "does not have write permissions" in refused.json()["message"]
    wrong = await http.get("/wp-json/wc/v3/orders", auth=("ck_readonly", "cs_wrong"))
    assert wrong.json()["message"] == "Consumer secret is invalid."

    assert (await http.post(f"/_sandbox/keys/{read_only.key_id}/revoke")).status_code == 200
    revoked = await http.get("/wp-json/wc/v3/orders", auth=("ck_readonly", "cs_readonly"))
    assert revoked.status_code == 401 and revoked.json()["code"] == "woocommerce_rest_cannot_view"
    yaml_key = await http.get("/wp-json/wc/v3/orders", auth=("ck_yaml", "cs_yaml"))
    assert yaml_key.status_code == 200  # only that key
