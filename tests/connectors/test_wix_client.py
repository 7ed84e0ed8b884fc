"""Wix's API conversation (connectors/wix/client.py): Search Orders by updated date, oldest first, then the
cursor alone; a 429 waited out; one order read from its envelope.

Answers are served at the httpx transport by respx: a request that matches no route fails the test, and so does
a route never called.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
import respx

from connectors.errors import PlatformError
from connectors.wix import ADAPTER
from sandboxes.wix import SANDBOX
from tests.connectors.platform_case import PlatformCase
from tests.connectors.stores.wix import BASE, UNIT
from tests.connectors.wix_tokens import documented_order


def search_page(orders: list, cursor: str | None, where: str = "pagingMetadata", **meta_over) -> httpx.Response:
    cursors = {"next": cursor} if cursor else {}
    meta = {"count": len(orders), "cursors": cursors, "hasNext": bool(cursor), **meta_over}
    return httpx.Response(200, json={"orders": orders, where: meta})


def orders(n: int, prefix: str) -> list[dict]:
    return [{**documented_order(), "id": f"{prefix}{i}"} for i in range(n)]


class TestWixClient(PlatformCase):
    adapter, sandbox, store = ADAPTER, SANDBOX, UNIT

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_the_poll_searches_by_updated_date_oldest_first_and_follows_the_cursor(self, respx_mock) -> None:
        first, second = documented_order(), {**documented_order(), "id": "second"}
        route = respx_mock.post(f"{BASE}/ecom/v1/orders/search").mock(
            side_effect=[search_page([first], "CUR1"), search_page([second], None)]
        )
        pages = await self.poll(datetime(2023, 11, 10, 8, 0, tzinfo=UTC))
        assert [[o["id"] for o in p] for p in pages] == [[first["id"]], ["second"]]
        assert json.loads(route.calls[0].request.content) == {
            "search": {
                "filter": {"updatedDate": {"$gte": "2023-11-10T08:00:00.000Z"}},
                "sort": [{"fieldName": "updatedDate", "order": "ASC"}],
                "cursorPaging": {"limit": 100},
            }
        }
        # The cursor holds the filter and sort; Wix refuses them repeated beside it.
        assert json.loads(route.calls[1].request.content) == {
            "search": {"cursorPaging": {"limit": 100, "cursor": "CUR1"}}
        }
        sent = route.calls[0].request.headers
        assert (sent["authorization"], sent["wix-site-id"]) == ("IST.key-1", "site-1")

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_a_429_is_waited_out_and_the_same_page_asked_again(self, respx_mock) -> None:
        route = respx_mock.post(f"{BASE}/ecom/v1/orders/search").mock(
            side_effect=[
                httpx.Response(429, json={"message": "Too Many Requests"}, headers={"Retry-After": "0"}),
                search_page([documented_order()], None),
            ]
        )
        pages = await self.poll(datetime(2023, 1, 1, tzinfo=UTC))
        assert len(pages) == 1 and route.call_count == 2
        assert route.calls[0].request.content == route.calls[1].request.content

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_one_order_is_fetched_from_its_envelope_and_a_missing_one_is_an_error(self, respx_mock) -> None:
        order = documented_order()
        respx_mock.get(f"{BASE}/ecom/v1/orders/{order['id']}").mock(
            return_value=httpx.Response(200, json={"order": order})
        )
        respx_mock.get(f"{BASE}/ecom/v1/orders/gone").mock(
            return_value=httpx.Response(
                404, json={"message": "not found", "details": {"applicationError": {"code": "ORDER_NOT_FOUND"}}}
            )
        )
        assert await self.fetch(order["id"]) == order
        with pytest.raises(PlatformError):
            await self.fetch("gone")

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_the_cursor_in_metadata_is_followed_as_the_one_in_paging_metadata(self, respx_mock) -> None:
        route = respx_mock.post(f"{BASE}/ecom/v1/orders/search").mock(
            side_effect=[
                search_page(orders(100, "a"), "CUR1", "metadata"),
                search_page(orders(100, "b"), "CUR2", "pagingMetadata"),
                search_page(orders(50, "c"), None, "metadata"),
            ]
        )
        pages = await self.poll(datetime(2023, 1, 1, tzinfo=UTC))
        assert [len(p) for p in pages] == [100, 100, 50] and route.call_count == 3
        assert [json.loads(c.request.content)["search"]["cursorPaging"].get("cursor") for c in route.calls] == [
            None,
            "CUR1",
            "CUR2",
        ]

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_a_full_last_page_ends_the_poll_when_has_next_says_so(self, respx_mock) -> None:
        respx_mock.post(f"{BASE}/ecom/v1/orders/search").mock(return_value=search_page(orders(100, "a"), None))
        assert [len(p) for p in await self.poll(datetime(2023, 1, 1, tzinfo=UTC))] == [100]

    @pytest.mark.parametrize(
        "answer",
        [
            pytest.param(
                {"orders": orders(3, "a"), "metadata": {"count": 3, "hasNext": True}}, id="hasNext, no cursor"
            ),
            pytest.param({"orders": orders(100, "a")}, id="a full page, no paging metadata"),
            pytest.param({"orders": orders(100, "a"), "metadata": {"count": 100}}, id="a full page, no hasNext"),
        ],
    )
    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_a_full_page_never_stops_the_poll_silently(self, respx_mock, answer: dict) -> None:
        respx_mock.post(f"{BASE}/ecom/v1/orders/search").mock(return_value=httpx.Response(200, json=answer))
        with pytest.raises(PlatformError, match=r"hasNext|full page"):
            await self.poll(datetime(2023, 1, 1, tzinfo=UTC))
