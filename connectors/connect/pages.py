"""What the merchant's browser is shown by a connect flow: connected, or what went wrong and what to do.

Rendered with Jinja autoescape on: a store's name or an error description comes from the platform or the
query string and is never trusted as HTML.
"""

from __future__ import annotations

from jinja2 import Environment, select_autoescape
from starlette.responses import HTMLResponse

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_PAGE = _ENV.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title></head>
<body><main><h1>{{ title }}</h1>{% for line in lines %}<p>{{ line }}</p>{% endfor %}</main></body></html>"""
)
# Our pages embed nothing from elsewhere and run no script.
_HEADERS = {
    "content-security-policy": "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
}


def connected_page(platform: str, shop: str, merchant_email: str) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.render(
            title="Store connected",
            lines=[
                f"Your {platform} store {shop} is connected to personalize.",
                f"Orders that need personalizing will be held, and their links emailed to {merchant_email}.",
                "You can close this page.",
            ],
        ),
        headers=_HEADERS,
    )


def failed_page(status: int, what: str, todo: str) -> HTMLResponse:
    """A flow that cannot finish: `what` happened, `todo` is the merchant's next step."""
    return HTMLResponse(
        _PAGE.render(title="Store not connected", lines=[what, todo]), status_code=status, headers=_HEADERS
    )
