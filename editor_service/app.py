"""The editor's HTTP app: the link routes, its static files, `/health`, `/metrics`, and the layers around them."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from editor_service.deps import Editor, EditorDep
from editor_service.pages import router
from editor_service.render import message
from editor_service.security import BodyLimit, SecurityHeaders

STATIC = Path(__file__).parent / "static"
DRAFT_MAX_BYTES = 64 * 1024


def make_app(editor: Editor) -> ASGIApp:
    app = FastAPI(title="personalize editor", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.editor = editor
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health")
    async def health(editor: EditorDep) -> Response:
        """200 when Redis and the broker answer, else 503."""
        checks = await editor.healthy()
        body = ", ".join(f"{name}: {'ok' if ok else 'down'}" for name, ok in checks.items())
        return Response(body, status_code=200 if all(checks.values()) else 503, media_type="text/plain")

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

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
    return SecurityHeaders(app)
