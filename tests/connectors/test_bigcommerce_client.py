"""BigCommerce's API conversation (connectors/bigcommerce/client.py): orders modified since, oldest first, each
order's products and shipping addresses fetched beside it, 204 for an empty page, the reset header of a 429.

Answers are the platform's documented examples, served at the httpx transport by respx: a request that matches
no route fails the test, and so does a route never called.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from connectors.bigcommerce import ADAPTER, client
from connectors.errors import PlatformError
from sandboxes.bigcommerce import SANDBOX
from tests.connectors.platform_case import PlatformCase, built_sample, sample
from tests.connectors.stores.bigcommerce import BASE, UNIT


def bc(name: str) -> Any:
    return sample("bigcommerce", name)


class TestBigCommerceClient(PlatformCase):
    adapter, sandbox, store = ADAPTER, SANDBOX, UNIT

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_the_poll_asks_modified_since_oldest_first_and_fetches_each_orders_products(self, respx_mock) -> None:
        listing = respx_mock.get(f"{BASE}/v2/orders").mock(
            return_value=httpx.Response(200, json=bc("orders_list_v2.json"))
        )
        products = respx_mock.get(f"{BASE}/v2/orders/100/products").mock(
            return_value=httpx.Response(200, json=bc("order_products_v2.json"))
        )
        respx_mock.get(f"{BASE}/v2/orders/100/shipping_addresses").mock(
            return_value=httpx.Response(200, json=built_sample("bigcommerce_shipping_addresses.json"))
        )
        pages = await self.poll(datetime(2018, 12, 5, 20, 0, tzinfo=UTC))
        assert [[o["id"] for o in page] for page in pages] == [[100]]  # one short page: no second request
        assert [row["id"] for row in pages[0][0]["products"]] == [65, 66]
        mapped = ADAPTER.map_order(self.store, pages[0][0]).order
        assert mapped.line_items[0].product_id == "77"
        assert (mapped.shipping_address.line1, mapped.shipping_address.city, mapped.shipping_address.country) == (
            "1 Main St",
            "Austin",
            "US",
        )
        params = listing.calls[0].request.url.params
        assert params["min_date_modified"] == "2018-12-05T20:00:00+00:00" and params["sort"] == "date_modified:asc"
        assert (params["limit"], params["page"]) == ("250", "1")
        assert dict(products.calls[0].request.url.params) == {"limit": "250", "page": "1"}
        for call in (*listing.calls, *products.calls):
            assert call.request.headers["x-auth-token"] == "tok_1"
            assert call.request.headers["accept"] == "application/json"

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_full_pages_are_followed_until_an_empty_204(self, respx_mock, monkeypatch) -> None:
        monkeypatch.setattr(client, "PAGE_SIZE", 2)
        orders, rows = [bc("orders_list_v2.json")[0], bc("order_get_v2.json")], bc("order_products_v2.json")
        listing = respx_mock.get(f"{BASE}/v2/orders").mock(
            side_effect=[httpx.Response(200, json=orders), httpx.Response(204)]
        )
        first = respx_mock.get(f"{BASE}/v2/orders/100/products").mock(
            side_effect=[httpx.Response(200, json=rows), httpx.Response(204)]
        )
        second = respx_mock.get(f"{BASE}/v2/orders/218/products").mock(return_value=httpx.Response(200, json=rows[:1]))
        respx_mock.get(url__regex=rf"{BASE}/v2/orders/(100|218)/shipping_addresses").mock(
            return_value=httpx.Response(204)
        )
        pages = await self.poll(datetime(2018, 1, 1, tzinfo=UTC))
        assert [[len(o["products"]) for o in page] for page in pages] == [[2, 1]]
        assert [c.request.url.params["page"] for c in listing.calls] == ["1", "2"]
        assert [c.request.url.params["page"] for c in first.calls] == ["1", "2"] and second.call_count == 1

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_nothing_modified_is_a_204_with_no_body(self, respx_mock) -> None:
        respx_mock.get(f"{BASE}/v2/orders").mock(return_value=httpx.Response(204))
        assert await self.poll(datetime.now(UTC)) == []

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_one_order_is_fetched_with_its_products(self, respx_mock) -> None:
        respx_mock.get(f"{BASE}/v2/orders/218").mock(return_value=httpx.Response(200, json=bc("order_get_v2.json")))
        respx_mock.get(f"{BASE}/v2/orders/218/products").mock(
            return_value=httpx.Response(200, json=bc("order_products_v2.json"))
        )
        respx_mock.get(f"{BASE}/v2/orders/218/shipping_addresses").mock(
            return_value=httpx.Response(200, json=built_sample("bigcommerce_shipping_addresses.json"))
        )
        raw = await self.fetch("218")
        assert ADAPTER.map_order(self.store, raw).order.platform_order_id == "218" and len(raw["products"]) == 2

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_a_429_waits_as_long_as_the_reset_header_says(self, respx_mock) -> None:
        limited = httpx.Response(
            429,
            headers={
                "X-Rate-Limit-Time-Reset-Ms": "300",
                "X-Rate-Limit-Requests-Left": "0",
                "X-Rate-Limit-Time-Window-Ms": "30000",
            },
        )
        route = respx_mock.get(f"{BASE}/v2/orders").mock(side_effect=[limited, httpx.Response(204)])
        assert ADAPTER.rate_limit_wait(limited) == 0.3
        assert ADAPTER.rate_limit_wait(httpx.Response(429)) is None  # platform load: the client backs off
        started = time.monotonic()
        assert await self.poll(datetime.now(UTC)) == []
        assert route.call_count == 2 and time.monotonic() - started >= 0.3

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_answers_that_are_not_a_collection_or_not_found_are_errors(self, respx_mock) -> None:
        respx_mock.get(f"{BASE}/v2/orders").mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
        respx_mock.get(f"{BASE}/v2/orders/9").mock(return_value=httpx.Response(404, json=[{"status": 404}]))
        with pytest.raises(PlatformError, match="non-JSON"):
            await self.poll(datetime.now(UTC))
        with pytest.raises(PlatformError) as error:
            await self.fetch("9")
        assert error.value.status == 404
