"""The shared platform client: what it retries, how long it waits, when it gives up."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from connectors.client import PlatformClient, RetryableError, retry_after_seconds, shared_http
from connectors.errors import PlatformError

BASE = "https://api.example.com"


def client(**kwargs) -> PlatformClient:
    return PlatformClient("test", BASE, backoff_initial_s=0.01, backoff_max_s=0.02, **kwargs)


@respx.mock(assert_all_called=True)
async def test_server_errors_and_network_errors_are_retried(respx_mock):
    route = respx_mock.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(502), httpx.ConnectError("refused"), httpx.Response(200, json={"ok": True})]
    )
    api = client()
    assert (await api.get_json("/x"))[0] == {"ok": True}
    assert route.call_count == 3
    await api.aclose()


@respx.mock(assert_all_called=True)
async def test_a_429_waits_as_long_as_retry_after_says(respx_mock):
    respx_mock.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0.3"}), httpx.Response(200, json=[])]
    )
    api = client()
    loop = __import__("asyncio").get_running_loop()
    started = loop.time()
    await api.get_json("/x")
    assert loop.time() - started >= 0.3
    await api.aclose()


@respx.mock(assert_all_called=True)
async def test_a_platform_header_can_say_how_long_to_wait(respx_mock):
    respx_mock.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(429, headers={"X-Rate-Limit-Time-Reset-Ms": "250"}), httpx.Response(200, json=[])]
    )
    waits = []

    def reset_header(response: httpx.Response) -> float:
        waits.append(int(response.headers["x-rate-limit-time-reset-ms"]) / 1000)
        return waits[-1]

    api = client(rate_limit_wait=reset_header)
    await api.get_json("/x")
    assert waits == [0.25]
    await api.aclose()


@respx.mock(assert_all_called=True)
async def test_client_errors_are_not_retried(respx_mock):
    route = respx_mock.get(f"{BASE}/x").mock(return_value=httpx.Response(401, json={"error": "bad key"}))
    api = client()
    with pytest.raises(PlatformError) as error:
        await api.get_json("/x")
    assert error.value.status == 401 and route.call_count == 1
    await api.aclose()


@respx.mock(assert_all_called=True)
async def test_it_gives_up_after_the_last_attempt(respx_mock):
    route = respx_mock.get(f"{BASE}/x").mock(return_value=httpx.Response(503))
    api = client(attempts=3)
    with pytest.raises(RetryableError):
        await api.get_json("/x")
    assert route.call_count == 3
    await api.aclose()


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait


@respx.mock(assert_all_called=True)
async def test_a_429_that_says_nothing_backs_off_instead_of_hammering(respx_mock):
    route = respx_mock.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(429), httpx.Response(429), httpx.Response(200, json=[])]
    )
    api = PlatformClient("test", BASE, backoff_initial_s=0.2, backoff_max_s=1.0)
    loop = __import__("asyncio").get_running_loop()
    started = loop.time()
    await api.get_json("/x")
    assert route.call_count == 3 and loop.time() - started >= 0.2
    await api.aclose()


@respx.mock(assert_all_called=True)
async def test_an_empty_answer_is_none_and_non_json_is_an_error(respx_mock):
    respx_mock.get(f"{BASE}/empty").mock(return_value=httpx.Response(204))
    respx_mock.post(f"{BASE}/html").mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
    api = client()
    assert (await api.request_json("GET", "/empty"))[0] is None
    with pytest.raises(PlatformError, match="non-JSON"):
        await api.request_json("POST", "/html", json={})
    await api.aclose()


class Drip(httpx.AsyncByteStream):
    """An answer that never ends: a byte every `every_s` (httpx's per-read timeout never fires)."""

    def __init__(self, every_s: float) -> None:
        self.every_s, self.sent = every_s, 0

    async def __aiter__(self):
        while True:
            await asyncio.sleep(self.every_s)
            self.sent += 1
            yield b" "


async def test_a_platform_dripping_its_answer_is_cut_at_the_attempts_deadline_and_retried() -> None:
    drip = Drip(every_s=0.05)
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, stream=drip) if calls == 1 else httpx.Response(200, json={"ok": True})

    api = client(deadline_s=0.3, transport=httpx.MockTransport(handler))
    assert (await api.get_json("/x"))[0] == {"ok": True}
    assert calls == 2 and drip.sent < 20  # cut at the deadline, then asked again
    await api.aclose()


async def test_an_answer_over_the_limit_is_refused_without_being_held_whole() -> None:
    chunks = 0

    async def endless():
        nonlocal chunks
        while True:
            chunks += 1
            yield b"x" * 65536

    class Endless(httpx.AsyncByteStream):
        def __aiter__(self):
            return endless()

    api = client(
        max_answer_bytes=1024 * 1024, transport=httpx.MockTransport(lambda r: httpx.Response(200, stream=Endless()))
    )
    with pytest.raises(PlatformError, match="answer over 1048576 bytes"):
        await api.get_json("/orders")
    assert chunks <= 17  # stopped just past 1 MiB, not read on
    await api.aclose()


async def test_stores_share_one_connection_pool_and_each_request_carries_its_own_store_and_credentials() -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization"), request.headers.get("x-store")))
        return httpx.Response(200, json={})

    shared = shared_http(httpx.MockTransport(platform))
    a = PlatformClient(
        "test", "https://a.example/wp-json/", headers={"x-store": "a"}, auth=httpx.BasicAuth("ka", "s"), http=shared
    )
    b = PlatformClient("test", "https://b.example/api", headers={"x-store": "b"}, http=shared)
    await a.get_json("/orders", page=2)
    await b.get_json("v3/orders")
    await a.aclose()  # a store stopped: the platform's pool stays open for the others
    await b.request_json("GET", "/orders/7", headers={"x-store": "b-override"})
    assert seen == [
        ("https://a.example/wp-json/orders?page=2", httpx.BasicAuth("ka", "s")._auth_header, "a"),
        ("https://b.example/api/v3/orders", None, "b"),
        ("https://b.example/api/orders/7", None, "b-override"),
    ]
    assert not shared.is_closed
    await shared.aclose()
