"""The editor's HTTP app: the link routes, its static files, the ops routes, and the layers around them."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from editor_service.deps import Editor
from editor_service.pages import client_address, router, show_page
from editor_service.render import message
from editor_service.security import BodyLimit, SecurityHeaders
from plumbing.ops import Health, add_ops_routes

STATIC = Path(__file__).parent / "static"
DRAFT_MAX_BYTES = 64 * 1024


def make_app(editor: Editor, health: Health) -> ASGIApp:
    app = FastAPI(title="personalize editor", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.editor = editor
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    add_ops_routes(app, health)  # /health, /health/live, /health/ready, /metrics

    @app.exception_handler(StarletteHTTPException)
    async def plain_errors(request: Request, error: StarletteHTTPException) -> Response:
        """Any other error is a fixed page that says nothing about the request."""
        if error.status_code == 404:
            return message("not_found", 404)
        return Response(f"{error.status_code}", status_code=error.status_code, media_type="text/plain")

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, error: RedisError) -> Response:
        """Redis unavailable: a page asking to retry, rather than a bare 500."""
        return message("unavailable", 503, {"Retry-After": "10"})

    app.add_middleware(BodyLimit, limit=editor.settings.max_body_bytes, small_limit=DRAFT_MAX_BYTES)
    # Outside FastAPI's own error layer, so even an unexpected 500 carries the headers.
    return SecurityHeaders(LinkPages(app, editor))


class LinkPages:
    """`GET /p/<token>` (and `?saved=1`) straight to its handler; everything else to FastAPI.

    The customer's page is the one route under load. FastAPI's dependency solving, request object, six
    middleware layers and routing were a quarter of the editor's CPU per page (py-spy, `benchmarks/`). A GET
    has no body, so the body limit has nothing to do; Redis errors get the same page as FastAPI's handler.
    """

    def __init__(self, app: ASGIApp, editor: Editor) -> None:
        self.app, self.editor = app, editor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        token = path[3:]
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not path.startswith("/p/")
            or "/" in token
            or not token
            or scope["query_string"] not in (b"", b"saved=1")
        ):
            await self.app(scope, receive, send)  # FastAPI parses anything else as before
            return
        try:
            response = await show_page(token, client_address(scope), scope["query_string"] == b"saved=1", self.editor)
        except RedisError:
            response = message("unavailable", 503, {"Retry-After": "10"})
        await response(scope, receive, send)
