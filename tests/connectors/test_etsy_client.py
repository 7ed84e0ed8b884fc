"""Etsy's API conversation (connectors/etsy/client.py): receipts updated since, oldest first, paged by offset
from Etsy's earliest allowed time, both auth headers, a bare 429 retried.

Answers are served at the httpx transport by respx: a request that matches no route fails the test, and so does
a route never called.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx

from connectors.etsy import ADAPTER
from plumbing.settings import SettingsError
from sandboxes.etsy import SANDBOX
from tests.connectors.platform_case import PlatformCase, built_sample
from tests.connectors.stores.etsy import BASE, UNIT

RECEIPTS = f"{BASE}/v3/application/shops/12345/receipts"


def receipt(receipt_id: int = 1001) -> dict:
    return {**built_sample("etsy_receipt.json"), "receipt_id": receipt_id}


class TestEtsyClient(PlatformCase):
    adapter, sandbox, store = ADAPTER, SANDBOX, UNIT

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_the_poll_asks_updated_since_oldest_first_and_pages_by_offset(self, respx_mock) -> None:
        route = respx_mock.get(RECEIPTS).mock(
            side_effect=[
                httpx.Response(200, json={"count": 3, "results": [receipt(receipt_id=1), receipt(receipt_id=2)]}),
                httpx.Response(200, json={"count": 3, "results": [receipt(receipt_id=3)]}),
            ]
        )
        since = datetime(2024, 5, 1, 10, 0, 0, 900, UTC)  # the filter takes whole seconds: rounded down
        pages = await self.poll(since)
        assert [[r["receipt_id"] for r in page] for page in pages] == [[1, 2], [3]]
        first, second = (dict(call.request.url.params) for call in route.calls)
        assert first == {
            "min_last_modified": "1714557600",
            "sort_on": "updated",
            "sort_order": "asc",
            "limit": "100",
            "offset": "0",
        }
        assert second == {**first, "offset": "2"}
        sent = route.calls[0].request.headers
        assert (sent["x-api-key"], sent["authorization"]) == ("ks1:ss1", "Bearer 123.tok")

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_an_empty_page_ends_the_poll_and_a_since_before_2000_is_raised_to_etsys_minimum(
        self, respx_mock
    ) -> None:
        route = respx_mock.get(RECEIPTS).mock(return_value=httpx.Response(200, json={"count": 5, "results": []}))
        assert await self.poll(datetime(1999, 12, 31, tzinfo=UTC)) == []
        assert route.call_count == 1 and route.calls[0].request.url.params["min_last_modified"] == "946684800"

    @respx.mock(assert_all_called=True, assert_all_mocked=True)
    async def test_one_receipt_is_fetched_by_id_and_a_bare_429_is_retried(self, respx_mock) -> None:
        route = respx_mock.get(f"{RECEIPTS}/1001").mock(
            side_effect=[httpx.Response(429, json={"error": "Too many requests"}), httpx.Response(200, json=receipt())]
        )
        assert (await self.fetch("1001"))["receipt_id"] == 1001
        assert route.call_count == 2 and route.calls[1].request.headers["x-api-key"] == "ks1:ss1"

    def test_a_store_missing_a_credential_stops_start_up_naming_it(self) -> None:
        for key in ("keystring", "shared_secret", "access_token"):
            creds = {k: v for k, v in self.store.credentials.items() if k != key}
            with pytest.raises(SettingsError, match=key):
                ADAPTER.headers(self.store.model_copy(update={"credentials": creds}))
