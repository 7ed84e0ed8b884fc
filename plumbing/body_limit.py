"""The request body limit of every HTTP server: one ASGI layer, a limit per app, larger (or smaller) per route.

A body over the limit is answered 413 and never read whole: at once when its Content-Length says so (the
app is not called), or as soon as a streamed (chunked) body passes it. The app then sees `BodyTooLarge`
from `receive()`: a Starlette `HTTPException` (413), so FastAPI re-raises it instead of calling it a bad body
(400), and an app's own 413 (the merchant API's JSON problem, the editor's page) goes out as it is. Any other
answer the app makes once the limit has passed is replaced by ours: the request was refused, not handled.

A body with a Content-Length within the limit is passed through without counting: uvicorn's parsers
(httptools, h11) never deliver more than the declared length, and the hot routes pay nothing for the layer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["JSON_ANSWER", "PLAIN_ANSWER", "BodyLimit", "BodyTooLarge"]

# (content type, body with `{limit}` for the limit in bytes).
Answer = tuple[str, str]
PLAIN_ANSWER: Answer = ("text/plain; charset=utf-8", "Request too large.")
_DETAIL = "request body over its maximum size of {limit} bytes"
JSON_ANSWER: Answer = ("application/json", json.dumps({"detail": _DETAIL}))


class BodyTooLarge(HTTPException):
    """The request body passed its limit while being read.

    The detail says "maximum size", as Starlette's own form limits do, so a handler that tells those apart
    (the editor's form reader) takes it for what it is.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, _DETAIL.replace("{limit}", str(limit)))


class BodyLimit:
    """`limit` for every request; `routes` maps paths (`/p/{token}`: a `{name}` is one segment) to their own."""

    def __init__(
        self, app: ASGIApp, limit: int, routes: Mapping[str, int] | None = None, answer: Answer = PLAIN_ANSWER
    ) -> None:
        self.app, self.limit, self.answer = app, limit, answer
        self.routes = [(_pattern(path), own) for path, own in (routes or {}).items()]

    def limit_for(self, path: str) -> int:
        return next((own for pattern, own in self.routes if pattern.fullmatch(path)), self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length, streamed = None, False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                streamed = True
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(send, limit)
            return
        if length is not None and not streamed:
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen = 0
        over = started = replaced = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise BodyTooLarge(limit)
            return message

        async def answer(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the rest of the answer ours replaced
            if message["type"] == "http.response.start" and over and not started:
                if message["status"] != 413:
                    replaced = started = True
                    await self._refuse(send, limit)
                    return
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, answer)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        content_type, template = self.answer
        body = template.replace("{limit}", str(limit)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)))
