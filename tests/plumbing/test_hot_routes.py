"""A hot route answers its own path, methods and queries; every other request reaches the app as before."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from plumbing.hot_routes import HotRoute, body_within, in_front_of


async def echo(request: Request) -> Response:
    params = ",".join(f"{k}={v}" for k, v in request.path_params.items())
    return PlainTextResponse(f"hot {request.method} {params}")


async def sized(request: Request) -> Response:
    body = await body_within(request, 8)
    return PlainTextResponse("too large" if body is None else f"{len(body)} bytes", 413 if body is None else 200)


def behind() -> FastAPI:
    """The app a hot route stands in front of, with routes for the same paths to tell who answered."""
    app = FastAPI()

    @app.api_route("/p/{token}", methods=["GET", "POST"])
    async def page(token: str, request: Request) -> Response:
        return PlainTextResponse(f"app {request.method} {token} {request.url.query}")

    @app.get("/health")
    async def health() -> Response:
        return PlainTextResponse("app health")

    return app


def client(*routes: HotRoute) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=in_front_of(behind(), *routes)), base_url="http://t")


async def test_its_path_and_method_go_to_its_endpoint_with_the_named_segments():
    async with client(HotRoute("/hooks/{platform}/{store}", echo, methods=frozenset({"POST"}))) as http:
        answer = await http.post("/hooks/wix/s-1")
    assert answer.text == "hot POST platform=wix,store=s-1"


async def test_other_paths_go_to_the_app():
    async with client(HotRoute("/p/{token}", echo)) as http:
        assert (await http.get("/health")).text == "app health"
        assert (await http.get("/p/abc/draft")).status_code == 404  # one segment more: not the route
        assert (await http.get("/p/")).status_code == 404  # an empty segment is not a `{name}`
        assert (await http.get("/q/abc")).status_code == 404


async def test_other_methods_go_to_the_app_unless_the_route_refuses_them():
    async with client(HotRoute("/p/{token}", echo)) as http:
        assert (await http.post("/p/abc")).text == "app POST abc "
    async with client(HotRoute("/p/{token}", echo, methods=frozenset({"POST"}), refuse_other_methods=True)) as http:
        refused = await http.get("/p/abc")
    assert (refused.status_code, refused.text, refused.headers["allow"]) == (405, "method not allowed", "POST")


async def test_a_query_it_does_not_take_goes_to_the_app():
    async with client(HotRoute("/p/{token}", echo, queries=frozenset({b"", b"saved=1"}))) as http:
        assert (await http.get("/p/abc")).text == "hot GET token=abc"
        assert (await http.get("/p/abc?saved=1")).text == "hot GET token=abc"
        assert (await http.get("/p/abc?saved=true")).text == "app GET abc saved=true"


async def test_the_body_is_read_up_to_its_limit():
    async with client(HotRoute("/up", sized, methods=frozenset({"POST"}))) as http:
        assert (await http.post("/up", content=b"12345678")).text == "8 bytes"
        assert (await http.post("/up", content=b"123456789")).status_code == 413


async def test_a_client_that_hangs_up_mid_body_gets_no_answer():
    sent: list[dict] = []
    messages = iter([{"type": "http.request", "body": b"1234", "more_body": True}, {"type": "http.disconnect"}])

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    front = in_front_of(behind(), HotRoute("/up", sized, methods=frozenset({"POST"})))
    await front({"type": "http", "method": "POST", "path": "/up", "query_string": b"", "headers": []}, receive, send)
    assert sent == []
