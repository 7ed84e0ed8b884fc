"""A hot route outside FastAPI: the one route under load served by its handler straight, the rest by the app.

FastAPI's dependency solving, request object, middleware layers and routing were ~15 % of a connector's CPU
per webhook and a quarter of the editor's per page (py-spy, `benchmarks/`). `in_front_of(app, route)` matches
the route first and calls its endpoint with a Starlette `Request` (the path's `{names}` in
`request.path_params`); the endpoint answers with any ASGI response, a Starlette one or a `PlainText`. Every
other request reaches the app exactly as it would without it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HotRoute", "PlainText", "body_within", "in_front_of"]

Endpoint = Callable[[Request], Awaitable[ASGIApp]]


@dataclass(frozen=True)
class HotRoute:
    """`path`: literal segments and `{name}`s, each `{name}` one non-empty segment (`/p/{token}`).

    `queries`: the query strings it serves (None: any); a request with another goes to the app, which parses
    it. `refuse_other_methods`: other methods on the path get 405 here, not the app's routes (it has none).
    """

    path: str
    endpoint: Endpoint
    methods: frozenset[str] = frozenset({"GET"})
    queries: frozenset[bytes] | None = None
    refuse_other_methods: bool = False
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        object.__setattr__(self, "_pattern", re.compile(pattern))

    def params(self, path: str) -> dict[str, str] | None:
        """The `{names}` of `path`, or None when it is not this route's."""
        matched = self._pattern.fullmatch(path)
        return matched.groupdict() if matched else None


def in_front_of(app: ASGIApp, *routes: HotRoute) -> ASGIApp:
    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        found = _route_of(scope, routes)
        if found is None:
            await app(scope, receive, send)
            return
        route, params = found
        if scope["method"] not in route.methods:  # the route refuses other methods
            await _not_allowed(route.methods)(scope, receive, send)
            return
        scope["path_params"] = params  # where Starlette's own routing puts them
        try:
            answer = await route.endpoint(Request(scope, receive))
        except ClientDisconnect:  # the client hung up before sending the whole body: nobody to answer
            return
        await answer(scope, receive, send)

    return front


def _route_of(scope: Scope, routes: Iterable[HotRoute]) -> tuple[HotRoute, dict[str, str]] | None:
    """The route that answers `scope` here, and its path's `{names}`; None: the app answers it."""
    if scope["type"] != "http":
        return None
    for route in routes:
        params = route.params(scope["path"])
        if params is None:
            continue
        if scope["method"] not in route.methods:
            return (route, params) if route.refuse_other_methods else None
        if route.queries is not None and scope["query_string"] not in route.queries:
            return None
        return route, params
    return None


class PlainText:
    """A plain-text answer in two ASGI messages, its headers as given.

    A Starlette `Response` builds and checks its headers per request: with one (and `request.stream()` for
    the body), a webhook took 113 k instructions in front of the connector's work, 93 k without (callgrind).
    """

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, text: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self.status, self.body = status, text.encode()
        self.headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(self.body)).encode()),
            *headers,
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


async def body_within(request: Request, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit` bytes (the rest is never read)."""
    chunks, size = [], 0
    while True:  # as `request.stream()` reads, without an async generator per request (see `PlainText`)
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _not_allowed(methods: Iterable[str]) -> PlainText:
    return PlainText(405, "method not allowed", [(b"allow", ", ".join(sorted(methods)).encode())])
