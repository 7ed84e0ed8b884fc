"""The merchant API's HTTP app: orders, store settings and catalogs, templates (its health: `plumbing.ops`)."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from fastapi import Depends, FastAPI
from starlette.routing import Route

from merchant_api import email_confirm, orders, stores, templates
from merchant_api.deps import Api
from merchant_api.errors import add_error_handlers
from merchant_api.query import known_query_only
from merchant_api.views import Problem, Responses
from plumbing.body_limit import JSON_ANSWER, BodyLimit

DESCRIPTION = """\
Orders, store settings, catalogs and templates of the personalize system, for merchants and their tools.

Every route takes `Authorization: Bearer <key>` (`personalize keys create --store
<platform>:<store_id>`). A store's key sees only that store: another store's order or settings answer
404. Commands (approve, cancel, resend-link) answer 202 once published on `orders.commands`; core applies
them within moments and the order's history shows the result. See docs/merchant-api.md.
"""

# The largest body a route takes is a product draft: 20 000 characters of description, up to 240 KB when a
# client escapes non-ASCII (Python's json.dumps does: an emoji is two `\uXXXX`, 12 bytes). A template's JSON
# is at most 16 KiB (plumbing/config.py), the settings a few hundred bytes. A client's 2 MB is refused unread.
MAX_BODY_BYTES = 256 * 1024

COMMON_ERRORS: Responses = {
    400: {"model": Problem, "description": "A body that is not JSON, or a request the API cannot act on as sent."},
    401: {"model": Problem, "description": "No key, or an unknown or revoked one."},
    413: {"model": Problem, "description": f"A body over {MAX_BODY_BYTES // 1024} KiB; it is not read."},
    503: {"model": Problem, "description": "Redis or the broker is unavailable; retry after `Retry-After` seconds."},
}


def make_app(api: Api | None = None) -> FastAPI:
    """`api` is None only to render the OpenAPI document (no Redis, no broker)."""
    app = FastAPI(
        title="personalize merchant API",
        version=version("personalize"),
        description=DESCRIPTION,
        dependencies=[Depends(known_query_only)],
    )
    app.state.api = api
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES, answer=JSON_ANSWER)
    routers = [module.router for module in (orders, stores, templates, email_confirm)]
    for router in routers:
        app.include_router(router, responses=COMMON_ERRORS)

    routes = [*app.router.routes, *(route for router in routers for route in router.routes)]
    add_error_handlers(app, [route for route in routes if isinstance(route, Route)])
    return app


def openapi_document() -> dict[str, Any]:
    return make_app().openapi()
