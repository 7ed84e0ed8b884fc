"""Pages from `templates/`, autoescaped: everything the customer or the platform typed is text, never markup."""

from __future__ import annotations

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from editor_service.forms import symbol
from editor_service.metrics import PAGES

_ENV = Environment(
    loader=PackageLoader("editor_service", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)  # no stat() per page view
_ENV.globals["symbol"] = symbol

MESSAGES = {
    "already": ("Already personalized", "This product has already been personalized. Thank you!"),
    "expired": (
        "This link has expired",
        (
            "This personalization link has expired. The shop will receive a new "
            "link for you; please ask them to forward it."
        ),
    ),
    "closed": ("Personalization closed", "This order can no longer be personalized."),
    "not_found": ("Not found", "There is nothing here."),
    "busy": ("Too many requests", "Too many requests; please wait a minute and try again."),
    "forbidden": (
        "Please try again",
        ("This form has expired or was not sent from this page. Please reload the page and try again."),
    ),
    "too_large": ("Too large", "What you sent is too large. Please choose a smaller image."),
    "unavailable": ("Please try again", "We cannot take your personalization right now. Please try again soon."),
    "bad_form": ("Please try again", "We could not read what was sent. Please reload the page and try again."),
}


def page(template: str, status: int = 200, **context: object) -> HTMLResponse:
    PAGES.labels(template if template != "message" else str(context.get("kind"))).inc()
    return HTMLResponse(_ENV.get_template(f"{template}.html.j2").render(**context), status_code=status)


def message(kind: str, status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    """One of the fixed pages: their text never includes anything about the order or the link."""
    title, text = MESSAGES[kind]
    response = page("message", status, kind=kind, title=title, text=text)
    response.headers.update(headers or {})
    return response
