"""The routes of the BigCommerce sandbox's app: the install pages, the token endpoint, and the controls tests and
`dev` use (`/_sandbox/oauth`: the app as registered; `/_sandbox/app/load` and `/uninstall`: the merchant opening
or uninstalling it; `/_sandbox/hooks`: the retry schedule, and what was delivered)."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from sandboxes.bigcommerce_app import AUTH_PATH, MARKETPLACE_PATH, TOKEN_PATH, AppError, BigCommerceApp, body_of
from sandboxes.bigcommerce_hooks import Hooks


class AppSettings(BaseModel):
    """`POST /_sandbox/oauth`: the app as registered in the Developer Portal (unset fields stay as they are)."""

    client_id: str | None = None
    client_secret: str | None = None
    redirect_uris: list[str] | None = Field(default=None, description="the Auth callback URL (the first one)")
    load_url: str | None = None
    uninstall_url: str | None = None
    owner_email: str | None = None
    scope: str | None = None


class HookSettings(BaseModel):
    retry_delays_s: list[float] | None = Field(default=None, description="BigCommerce's: 60 s … 86400 s")
    https_only: bool | None = None


def _page(status: int, text: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><title>BigCommerce</title><p>{escape(text)}</p>", status_code=status)


def _install_page(app: BigCommerceApp, client_id: str, external: bool) -> Response:
    problem = app.install_problem(client_id)
    if problem:
        return _page(404, problem)
    return HTMLResponse(app.install_page(AUTH_PATH.format(client_id=client_id), external))


def routes(app: BigCommerceApp, hooks: Hooks) -> APIRouter:
    """The control panel's install page, the token endpoint, and the sandbox's controls of the app."""
    router = APIRouter()
    http = httpx.AsyncClient(timeout=10.0)

    @router.post("/_sandbox/oauth")
    async def configure(settings: AppSettings) -> dict[str, Any]:
        for name in ("client_id", "client_secret", "owner_email", "scope"):
            if getattr(settings, name) is not None:
                setattr(app, name, getattr(settings, name))
        if settings.redirect_uris:
            app.auth_callback = settings.redirect_uris[0]
        if settings.load_url is not None:
            app.load_callback = settings.load_url
        if settings.uninstall_url is not None:
            app.uninstall_callback = settings.uninstall_url
        return {"client_id": app.client_id, "auth_callback": app.auth_callback, "store_hash": app.store_hash}

    @router.get("/_sandbox/oauth")
    async def stats() -> dict[str, Any]:
        return app.stats_view()

    @router.get(AUTH_PATH)
    async def install(client_id: str) -> Response:
        return _install_page(app, client_id, external=True)

    @router.get(MARKETPLACE_PATH)
    async def install_in_control_panel(client_id: str) -> Response:
        return _install_page(app, client_id, external=False)

    @router.post(AUTH_PATH)
    async def decide(client_id: str, request: Request) -> Response:
        problem = app.install_problem(client_id)
        if problem:
            return _page(404, problem)
        form = await request.form()
        if form.get("decision") != "install":
            return _page(200, "The app was not installed.")  # BigCommerce tells the app nothing
        return RedirectResponse(app.consent(external=form.get("external") == "true"), status_code=302)

    @router.get(AUTH_PATH + "/{outcome}")
    async def finished(client_id: str, outcome: str) -> Response:
        """Where an external install ends: BigCommerce's own page, which closes its install window."""
        if outcome not in ("succeeded", "failed"):
            return _page(404, "Not found.")
        app.stats.external_outcomes.append(outcome)
        return _page(200, "The app was installed." if outcome == "succeeded" else "The app could not be installed.")

    @router.post(TOKEN_PATH)
    async def token(request: Request) -> Response:
        try:
            return JSONResponse(app.token(body_of(await request.body(), request.headers.get("content-type", ""))))
        except AppError as refused:
            return JSONResponse({"error": refused.error, "error_description": refused.description}, refused.status)

    @router.get("/_sandbox/app/load")
    async def load() -> Response:
        """The merchant opens the app in the control panel: the iframe loads the Load callback."""
        if not app.load_callback:
            return _page(404, "The app has no Load callback URL registered.")
        return RedirectResponse(f"{app.load_callback}?{urlencode({'signed_payload_jwt': app.signed_payload()})}")

    @router.post("/_sandbox/app/uninstall")
    async def uninstall() -> dict[str, Any]:
        """The merchant uninstalls the app: its tokens die, its hooks are deleted, the Uninstall callback is called."""
        app.uninstalled()
        deleted = hooks.delete_client(app.client_id)
        status: int | str = "no uninstall callback registered"
        if app.uninstall_callback:
            try:
                answer = await http.get(app.uninstall_callback, params={"signed_payload_jwt": app.signed_payload()})
                status = answer.status_code
            except httpx.HTTPError as error:
                status = type(error).__name__
        app.stats.uninstall_calls.append(status)
        return {"uninstall_callback": status, "hooks_deleted": deleted}

    @router.post("/_sandbox/hooks")
    async def hook_settings(settings: HookSettings) -> dict[str, Any]:
        if settings.retry_delays_s is not None:
            hooks.retry_delays_s = tuple(settings.retry_delays_s)
        if settings.https_only is not None:
            hooks.https_only = settings.https_only
        return {"retry_delays_s": list(hooks.retry_delays_s), "https_only": hooks.https_only}

    @router.get("/_sandbox/hooks")
    async def hook_state() -> dict[str, Any]:
        return {
            "hooks": [h.view(hooks.store_hash) for h in hooks.items.values()],
            "deliveries": hooks.deliveries,
            "notified": hooks.notified,
        }

    return router
