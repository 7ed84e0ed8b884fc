"""Query parameters a route does not take are refused (422), not ignored: `?stauts=cancelled` must not quietly
list every order. The names each route takes come from the app's own OpenAPI document."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.routing import compile_path

_Rule = tuple[re.Pattern[str], str, frozenset[str]]


async def known_query_only(request: Request) -> None:
    taken = next(
        (
            names
            for pattern, method, names in _rules(request.app)
            if method == request.method and pattern.match(request.url.path)
        ),
        frozenset(),
    )
    unknown = sorted(set(request.query_params) - taken)
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": "Extra inputs are not permitted",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )


def _rules(app: FastAPI) -> list[_Rule]:
    if not hasattr(app.state, "query_rules"):
        app.state.query_rules = [
            (
                compile_path(path)[0],
                method.upper(),
                frozenset(p["name"] for p in operation.get("parameters", []) if p["in"] == "query"),
            )
            for path, operations in app.openapi()["paths"].items()
            for method, operation in operations.items()
        ]
    return app.state.query_rules
