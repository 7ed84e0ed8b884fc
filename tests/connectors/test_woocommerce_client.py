"""WooCommerce's API conversation (connectors/woocommerce/client.py): orders modified since, oldest first,
pages counted in X-WP-TotalPages, Basic auth over HTTPS and OAuth 1.0a over plain HTTP.

Answers are the platform's documented examples, served at the httpx transport by respx: a request that matches
no route fails the test, and so does a route never called.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import respx

from connectors.client import PlatformClient
from connectors.woocommerce import ADAPTER
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
