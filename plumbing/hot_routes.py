"""A hot route outside FastAPI: the one route under load served by its handler straight, the rest by the app.

FastAPI's dependency solving, request object, middleware layers and routing were ~15 % of a connector's CPU
per webhook and a quarter of the editor's per page (py-spy, `benchmarks/`). `in_front_of(app, route)` matches
the route first and calls its handler, a Starlette endpoint (`async (Request) -> Response`) with the path's
`{names}` in `request.path_params`; every other request reaches the app exactly as it would without it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HotRoute", "body_within", "in_front_of"]

Endpoint = Callable[[Request], Awaitable[Response]]


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
    _segments: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_segments", tuple(self.path.split("/")))

    def params(self, path: str) -> dict[str, str] | None:
        """The `{names}` of `path`, or None when it is not this route's."""
        parts = path.split("/")
        if len(parts) != len(self._segments):
            return None
        params = {}
        for part, segment in zip(parts, self._segments, strict=True):
            if segment.startswith("{"):
                if not part:
                    return None
                params[segment[1:-1]] = part
            elif part != segment:
                return None
        return params


def in_front_of(app: ASGIApp, *routes: HotRoute) -> ASGIApp:
    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in routes:
                params = route.params(scope["path"])
                if params is None:
                    continue
                if scope["method"] in route.methods:
                    if route.queries is None or scope["query_string"] in route.queries:
                        await _serve(route.endpoint, params, scope, receive, send)
                        return
                elif route.refuse_other_methods:
                    await _not_allowed(route.methods)(scope, receive, send)
                    return
                break
        await app(scope, receive, send)

    return front


async def body_within(request: Request, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit` bytes (the rest is never read)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _serve(endpoint: Endpoint, params: dict[str, str], scope: Scope, receive: Receive, send: Send) -> None:
    scope["path_params"] = params  # where Starlette's own routing puts them
    try:
        response = await endpoint(Request(scope, receive))
    except ClientDisconnect:  # the client hung up before sending the whole body: nobody to answer
        return
    await response(scope, receive, send)


def _not_allowed(methods: Iterable[str]) -> Response:
    return PlainTextResponse("method not allowed", 405, headers={"allow": ", ".join(sorted(methods))})
