"""Squarespace's API conversation (connectors/squarespace/client.py) and the sandbox's rules for it: a date
range XOR a cursor, pages of fifty, a required User-Agent, the minute of cool-down after a 429.

Answers are served at the httpx transport by respx (a request that matches no route fails the test, and so does
a route never called) or by the sandbox app.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import respx

from connectors.squarespace import ADAPTER, client
from sandboxes.base import make_sandbox_app
from sandboxes.orders.squarespace import documented_order
from sandboxes.squarespace import SANDBOX
from tests.connectors.platform_case import PlatformCase
from tests.connectors.stores.squarespace import BASE, UNIT

ORDERS = f"{BASE}/1.0/commerce/orders"


def order(order_id: str, modified: str) -> dict:
    return {**documented_order(), "id": order_id, "modifiedOn": modified}


class TestSquarespaceClient(PlatformCase):
    adapter, sandbox, store = ADAPTER, SANDBOX, UNIT

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_the_poll_sends_the_range_first_then_only_the_cursor_and_hands_on_oldest_first(
        self, respx_mock
    ) -> None:
        route = respx_mock.get(ORDERS).mock(
            side_effect=[
                httpx.Response(
                    200,
                    json={
                        "result": [order("b", "2017-01-03T00:00:00.000Z"), order("a", "2017-01-01T00:00:00Z")],
                        "pagination": {
                            "hasNextPage": True,
                            "nextPageCursor": "c1",
                            "nextPageUrl": f"{ORDERS}?cursor=c1",
                        },
                    },
                ),
                httpx.Response(
                    200,
                    json={
                        "result": [order("c", "2017-01-02T00:00:00.000Z")],
                        "pagination": {"hasNextPage": False, "nextPageCursor": None, "nextPageUrl": None},
                    },
                ),
            ]
        )
        since = datetime(2016, 12, 31, 12, 0, tzinfo=UTC)
        now = datetime(2017, 1, 5, 8, 30, 15, 123456, tzinfo=UTC)
        conversation = self.client()
        pages = [page async for page in client.list_modified(conversation, self.store, since, now=lambda: now)]
        await conversation.aclose()
        assert [[o["id"] for o in page] for page in pages] == [["a", "c", "b"]]
        first, second = (call.request for call in route.calls)
        assert dict(first.url.params) == {
            "modifiedAfter": "2016-12-31T12:00:00.000Z",
            "modifiedBefore": "2017-01-05T08:30:15.123Z",
        }
        assert dict(second.url.params) == {"cursor": "c1"}
        for request in (first, second):
            assert request.headers["authorization"] == "Bearer key-1"
            assert request.headers["user-agent"] == "personalize-connector/0.1"

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_a_long_window_is_handed_on_in_pages_of_fifty(self, respx_mock) -> None:
        result = [order(f"o{i:03}", f"2017-01-01T00:{i // 60:02}:{i % 60:02}Z") for i in range(120)]
        respx_mock.get(ORDERS).mock(
            return_value=httpx.Response(
                200,
                json={
                    "result": result[::-1],
                    "pagination": {"hasNextPage": False, "nextPageCursor": None, "nextPageUrl": None},
                },
            )
        )
        pages = await self.poll(datetime(2017, 1, 1, tzinfo=UTC))
        assert [len(page) for page in pages] == [50, 50, 20]
        assert [o["id"] for page in pages for o in page] == [o["id"] for o in result]

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_one_order_is_fetched_by_its_id_after_riding_out_a_429(self, respx_mock) -> None:
        route = respx_mock.get(f"{ORDERS}/5f3c39ce69e11e796f19990e").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "0.05"}),
                httpx.Response(200, json=documented_order()),
            ]
        )
        assert (await self.fetch("5f3c39ce69e11e796f19990e"))["orderNumber"] == "3"
        assert route.call_count == 2 and route.calls[1].request.headers["user-agent"] == "personalize-connector/0.1"

    def test_a_429_without_retry_after_waits_out_the_minute_of_cool_down(self) -> None:
        assert ADAPTER.rate_limit_wait(httpx.Response(429)) == 60.0
        assert ADAPTER.rate_limit_wait(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0

    def sandbox_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=make_sandbox_app(SANDBOX, self.store)),
            base_url="http://sandbox",
            headers=ADAPTER.headers(self.store),
        )

    async def test_the_sandbox_refuses_a_cursor_with_dates_one_date_alone_or_no_user_agent(self) -> None:
        async with self.sandbox_http() as http:
            dates = {"modifiedAfter": "2016-01-01T00:00:00Z", "modifiedBefore": "2030-01-01T00:00:00Z"}
            assert (await http.get("/1.0/commerce/orders", params={**dates, "cursor": "x"})).status_code == 400
            one_date = {"modifiedAfter": dates["modifiedAfter"]}
            assert (await http.get("/1.0/commerce/orders", params=one_date)).status_code == 400
            assert (await http.get("/1.0/commerce/orders", params=dates)).status_code == 200
            request = http.build_request("GET", "/1.0/commerce/orders", params=dates)
            del request.headers["user-agent"]
            assert (await http.send(request)).status_code == 401

    async def test_the_sandbox_pages_fifty_at_a_time_newest_first_by_cursor(self) -> None:
        async with self.sandbox_http() as http:
            for _ in range(55):
                (await http.post("/_sandbox/orders", json={"webhook": False})).raise_for_status()
            params = {"modifiedAfter": "2016-01-01T00:00:00Z", "modifiedBefore": "2999-01-01T00:00:00Z"}
            first = (await http.get("/1.0/commerce/orders", params=params)).json()
            cursor = first["pagination"]["nextPageCursor"]
            second = (await http.get("/1.0/commerce/orders", params={"cursor": cursor})).json()
        assert (len(first["result"]), len(second["result"])) == (50, 7)  # 55 placed + 2 documented
        assert first["pagination"]["hasNextPage"] and not second["pagination"]["hasNextPage"]
        stamps = [o["modifiedOn"] for o in first["result"] + second["result"]]
        assert stamps == sorted(stamps, reverse=True)

    async def test_the_sandbox_has_no_unpaid_orders(self) -> None:
        async with self.sandbox_http() as http:
            assert (await http.post("/_sandbox/orders", json={"paid": False})).status_code == 422
