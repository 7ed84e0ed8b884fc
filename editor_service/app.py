"""The editor's HTTP app: the link routes, its static files, and the layers around them (ops: `plumbing.ops`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from editor_service.deps import Editor
from editor_service.pages import client_address, router, show_page
from editor_service.render import message
from editor_service.security import SecurityHeaders
from plumbing.body_limit import BodyLimit
from plumbing.hot_routes import HotRoute, in_front_of

STATIC = Path(__file__).parent / "static"
DRAFT_MAX_BYTES = 64 * 1024


def make_app(editor: Editor) -> ASGIApp:
    app = FastAPI(title="personalize editor", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.editor = editor
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

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

    app.add_middleware(BodyLimit, limit=DRAFT_MAX_BYTES, routes={"/p/{token}": editor.settings.max_body_bytes})

    # Outside FastAPI's own error layer, so even an unexpected 500 carries the headers.
    return SecurityHeaders(in_front_of(app, _link_page(editor)))


def _link_page(editor: Editor) -> HotRoute:
    """`GET /p/<token>` (and `?saved=1`) outside FastAPI, the one route under load (`plumbing.hot_routes`).

    Any other query goes to FastAPI's route; a GET has no body for the limit to check; Redis unavailable gets
    the page FastAPI's handler gives.
    """

    async def show(request: Request) -> Response:
        saved = request.scope["query_string"] == b"saved=1"
        try:
            return await show_page(request.path_params["token"], client_address(request.scope), saved, editor)
        except RedisError:
            return message("unavailable", 503, {"Retry-After": "10"})

    return HotRoute("/p/{token}", show, queries=frozenset({b"", b"saved=1"}))
