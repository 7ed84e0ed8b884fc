"""WooCommerce's API conversation (connectors/woocommerce/client.py): orders modified since, oldest first,
pages counted in X-WP-TotalPages, Basic auth over HTTPS and OAuth 1.0a over plain HTTP.

Answers are the platform's documented examples, served at the httpx transport by respx: a request that matches
no route fails the test, and so does a route never called.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx

from connectors.client import PlatformClient
from connectors.errors import PlatformError
from connectors.woocommerce import ADAPTER
from plumbing.settings import SettingsError
from sandboxes.base import make_sandbox_app
from sandboxes.woocommerce import SANDBOX
from tests.connectors.platform_case import PlatformCase, sample
from tests.connectors.stores.woocommerce import BASE, UNIT


class TestWooCommerceClient(PlatformCase):
    adapter, sandbox, store = ADAPTER, SANDBOX, UNIT

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_the_poll_asks_modified_after_in_gmt_oldest_first_and_follows_total_pages(self, respx_mock) -> None:
        listing = sample("woocommerce", "orders_list_v3.json")
        route = respx_mock.get(f"{BASE}/wp-json/wc/v3/orders").mock(
            side_effect=[
                httpx.Response(200, json=listing[:1], headers={"X-WP-TotalPages": "2"}),
                httpx.Response(200, json=listing[1:], headers={"X-WP-TotalPages": "2"}),
            ]
        )
        pages = await self.poll(datetime(2017, 3, 22, 19, 0, tzinfo=UTC))
        assert [[o["id"] for o in page] for page in pages] == [[727], [723]]
        first = route.calls[0].request.url.params
        assert first["modified_after"] == "2017-03-22T19:00:00" and first["dates_are_gmt"] == "true"
        assert (first["orderby"], first["order"], first["per_page"], first["page"]) == ("modified", "asc", "100", "1")
        assert route.calls[1].request.url.params["page"] == "2"
        assert route.calls[0].request.headers["authorization"].startswith("Basic ")

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_over_plain_http_requests_are_signed_with_oauth1(self, respx_mock) -> None:
        http_store = self.store.model_copy(update={"base_url": "http://shop.example.com"})
        route = respx_mock.get("http://shop.example.com/wp-json/wc/v3/orders/727").mock(
            return_value=httpx.Response(200, json=sample("woocommerce", "order_retrieve_v3.json"))
        )
        api = PlatformClient("woocommerce", "http://shop.example.com", auth=ADAPTER.auth(http_store))
        assert (await ADAPTER.fetch_order(api, http_store, "727"))["id"] == 727
        await api.aclose()
        params = route.calls[0].request.url.params
        assert params["oauth_consumer_key"] == "ck_1" and params["oauth_signature_method"] == "HMAC-SHA256"
        assert "authorization" not in route.calls[0].request.headers

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_hosts_that_strip_authorization_get_the_query_string_credentials(self, respx_mock) -> None:
        stripped = self.store.model_copy(update={"credentials": {**self.store.credentials, "auth": "query_string"}})
        route = respx_mock.get(f"{BASE}/wp-json/wc/v3/orders/727").mock(
            side_effect=[httpx.Response(200, json=sample("woocommerce", "order_retrieve_v3.json")), httpx.Response(401)]
        )
        assert (await self.fetch("727", store=stripped))["id"] == 727
        request = route.calls[0].request
        assert (request.url.scheme, request.url.params["consumer_key"], request.url.params["consumer_secret"]) == (
            "https",
            "ck_1",
            "cs_1",
        )
        assert "authorization" not in request.headers
        with pytest.raises(PlatformError) as refused:  # an error names the path, never the URL with the secret
            await self.fetch("727", store=stripped)
        assert "cs_1" not in str(refused.value)

    def test_query_string_credentials_over_plain_http_or_an_unknown_auth_option_are_refused_at_start(self) -> None:
        plain = self.store.model_copy(
            update={"base_url": "http://shop.example.com", "credentials": {"auth": "query_string"}}
        )
        with pytest.raises(SettingsError, match="needs an https:// base_url"):
            ADAPTER.auth(plain)
        with pytest.raises(SettingsError, match=r"credentials\.auth is .header."):
            ADAPTER.auth(self.store.model_copy(update={"credentials": {"auth": "header"}}))

    async def test_the_sandbox_behind_a_stripping_host_answers_query_string_credentials_only(self) -> None:
        stripped = self.store.model_copy(update={"credentials": {**self.store.credentials, "auth": "query_string"}})
        app = make_sandbox_app(SANDBOX, stripped)
        (seeded, *_) = app.state.sandbox.seeded
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as shop:
            basic = await shop.get(f"/wp-json/wc/v3/orders/{seeded}", auth=("ck_1", "cs_1"))
            assert basic.status_code == 401  # the host dropped the header
            wrong = await shop.get(
                f"/wp-json/wc/v3/orders/{seeded}", params={"consumer_key": "ck_1", "consumer_secret": "x"}
            )
            assert wrong.status_code == 401
        assert (await self.fetch(seeded, httpx.ASGITransport(app=app), stripped))["id"] == int(seeded)
