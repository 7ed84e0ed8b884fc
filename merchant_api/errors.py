"""Errors as JSON with a `detail`: the dependencies being down is a 503 to retry, never a bare 500."""

from __future__ import annotations

import logging
import re

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.routing import Route, compile_path

log = logging.getLogger("merchant_api")


def add_error_handlers(app: FastAPI, routes: list[Route]) -> None:
    methods_by_path = _methods_by_path(routes)

    @app.exception_handler(405)
    async def method_not_allowed(request: Request, error: HTTPException) -> JSONResponse:
        """`Allow` names every method of the path: Starlette's lists only the first route's (one per method here)."""
        allowed = next((methods for pattern, methods in methods_by_path if pattern.match(request.url.path)), [])
        return JSONResponse(
            {"detail": f"{request.method} is not allowed here; use {', '.join(allowed)}"},
            status_code=405,
            headers={"Allow": ", ".join(allowed)},
        )

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, error: RedisError) -> JSONResponse:
        log.warning("Redis unavailable for %s %s: %r", request.method, request.url.path, error)
        return _unavailable("the order store (Redis) is unavailable; try again shortly")

    @app.exception_handler(KafkaError)
    async def broker_down(request: Request, error: KafkaError) -> JSONResponse:
        log.warning("broker unavailable for %s %s: %r", request.method, request.url.path, error)
        return _unavailable("the command could not be published to the broker; nothing was sent, try again shortly")


def _methods_by_path(routes: list[Route]) -> list[tuple[re.Pattern[str], list[str]]]:
    methods: dict[str, set[str]] = {}
    for route in routes:
        if route.methods:  # None: its endpoint is an ASGI app, which takes every method itself
            methods.setdefault(route.path, set()).update(route.methods)
    return [(compile_path(path)[0], sorted(found)) for path, found in methods.items()]


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "5"})
