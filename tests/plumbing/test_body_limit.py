"""The body limit every HTTP server has (`plumbing.body_limit`), driven as ASGI: what is read, what is answered."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from plumbing.body_limit import JSON_ANSWER, BodyLimit

KIB = 1024
CHUNK = 64 * KIB


class Transcript:
    """One request through an ASGI app: the body sent in chunks, counting how many the app pulled."""

    def __init__(self, headers: list[tuple[bytes, bytes]], chunks: int, path: str = "/up") -> None:
        self.scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "http_version": "1.1",
            "scheme": "http",
            "server": ("test", 80),
            "client": ("test", 1),
            "root_path": "",
        }
        self.chunks, self.pulled, self.sent = chunks, 0, []

    async def receive(self) -> dict:
        self.pulled += 1
        more = self.pulled < self.chunks
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": more}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    async def run(self, app) -> int:
        await app(self.scope, self.receive, self.send)
        return self.sent[0]["status"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


async def reads_all(scope, receive, send) -> None:
    request = Request(scope, receive)
    body = await request.body()
    await PlainTextResponse(f"{len(body)} bytes")(scope, receive, send)


async def test_a_declared_length_over_the_limit_is_refused_without_calling_the_app():
    called = []

    async def app(scope, receive, send):
        called.append(scope["path"])

    # The finding's 2 MB: answered from the header, nothing of the body read.
    request = Transcript([(b"content-length", b"2000000")], chunks=31)
    assert await request.run(BodyLimit(app, limit=256 * KIB)) == 413
    assert (called, request.pulled) == ([], 0)
    assert (b"connection", b"close") in request.sent[0]["headers"]


async def test_a_streamed_body_is_stopped_once_it_passes_the_limit():
    request = Transcript([(b"transfer-encoding", b"chunked")], chunks=32)  # 2 MiB, no length
    assert await request.run(BodyLimit(reads_all, limit=256 * KIB)) == 413
    assert request.pulled == 256 * KIB // CHUNK + 1  # the chunk that passed it, never the rest


async def test_a_body_within_the_limit_reaches_the_app_whole():
    declared = Transcript([(b"content-length", str(4 * CHUNK).encode())], chunks=4)
    assert await declared.run(BodyLimit(reads_all, limit=256 * KIB)) == 200
    assert declared.body == f"{4 * CHUNK} bytes".encode()
    streamed = Transcript([(b"transfer-encoding", b"chunked")], chunks=4)
    assert await streamed.run(BodyLimit(reads_all, limit=256 * KIB)) == 200


async def test_a_malformed_length_is_refused():
    request = Transcript([(b"content-length", b"12, 12")], chunks=1)
    assert await request.run(BodyLimit(reads_all, limit=256 * KIB)) == 413


async def test_one_route_gets_its_own_limit():
    app = BodyLimit(reads_all, limit=64 * KIB, routes={"/p/{token}": 1024 * KIB})
    upload = Transcript([(b"transfer-encoding", b"chunked")], chunks=10, path="/p/abc")
    assert await upload.run(app) == 200
    draft = Transcript([(b"transfer-encoding", b"chunked")], chunks=10, path="/p/abc/draft")
    assert await draft.run(app) == 413
    assert draft.pulled == 2
    assert app.limit_for("/p/a/b") == 64 * KIB and app.limit_for("/p/") == 64 * KIB


async def test_an_app_that_swallows_the_refusal_still_answers_413():
    """An app that catches the error while reading (as a form parser may) does not get its answer out."""

    async def forgiving(scope, receive, send):
        try:
            await Request(scope, receive).body()
        except Exception:
            await PlainTextResponse("bad form", status_code=400)(scope, receive, send)

    request = Transcript([(b"transfer-encoding", b"chunked")], chunks=32)
    assert await request.run(BodyLimit(forgiving, limit=256 * KIB)) == 413
    assert request.body == b"Request too large."
    assert [m["type"] for m in request.sent] == ["http.response.start", "http.response.body"]


class Body(BaseModel):
    title: str


def fastapi_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(BodyLimit, limit=256 * KIB, answer=JSON_ANSWER)

    @app.post("/up")
    async def up(body: Body) -> dict:
        return {"length": len(body.title)}

    return app


async def test_fastapi_answers_a_streamed_body_over_the_limit_413_not_400():
    """FastAPI calls any error while reading the body a bad body (400); this one is an HTTPException, a 413."""
    request = Transcript([(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")], chunks=32)
    assert await request.run(fastapi_app()) == 413
    assert json.loads(request.body)["detail"] == "request body over its maximum size of 262144 bytes"


async def test_fastapi_answers_a_declared_length_over_the_limit_with_json():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fastapi_app()), base_url="http://t") as http:
        refused = await http.post("/up", json={"title": "x" * 300 * KIB})
        assert refused.status_code == 413 and refused.json() == {
            "detail": "request body over its maximum size of 262144 bytes"
        }
        assert (await http.post("/up", json={"title": "x" * 100 * KIB})).json() == {"length": 100 * KIB}
