"""The Wix sandbox app's HTTP face (`wix_app.py` has what it does): the installer page and its form, Create Access
Token, Get App Instance, and the app's `/_sandbox/*` controls (its settings, tokens expiring on command, further
sites, an order on one of them, and the merchant removing the app from a site)."""

from __future__ import annotations

from dataclasses import asdict
from html import escape
from typing import Any, Protocol

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from sandboxes.base import OrderSpec, SandboxState
from sandboxes.wix_app import AUTH_PATH, INSTANCE_PATH, TOKEN_PATH, AppSettings, NewSite, Site, WixApp


class Signs(Protocol):
    """What the app needs of the Wix sandbox: its orders and its signed deliveries (sandboxes/wix.py)."""

    def new_order(self, state: SandboxState, spec: OrderSpec) -> dict[str, Any]: ...

    def webhook(
        self, state: SandboxState, raw: dict[str, Any], event: str, thin: bool
    ) -> tuple[dict[str, str], bytes]: ...

    def app_event(self, state: SandboxState, event_type: str, data: dict[str, Any]) -> tuple[dict[str, str], bytes]: ...


def app_router(app: WixApp, sandbox: Signs) -> APIRouter:
    """The installer, the token endpoint, Get App Instance and the app's controls."""
    router = APIRouter()
    client = httpx.AsyncClient(timeout=5.0)

    async def deliver(headers: dict[str, str], body: bytes) -> list[int | str]:
        url = app.primary.webhooks.url  # one URL for the app, every site's deliveries
        if not url or not app.primary.webhooks.enabled:
            return []
        try:
            return [(await client.post(url, content=body, headers=headers)).status_code]
        except httpx.HTTPError as error:
            return [type(error).__name__]

    def site_or_404(instance_id: str) -> Site | Response:
        site = app.sites.get(instance_id)
        return site if site is not None else JSONResponse({"message": "no such site"}, status_code=404)

    @router.get(AUTH_PATH)
    async def installer(request: Request) -> Response:
        query = dict(request.query_params)
        problem = app.install_problem(query)
        if problem:
            return HTMLResponse(f"<!doctype html><title>Error</title><p>{escape(problem)}</p>", status_code=400)
        return HTMLResponse(app.install_page(query))

    @router.post(AUTH_PATH)
    async def decided(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        problem = app.install_problem(form) or (None if form.get("instance") in app.sites else "Choose a site.")
        if problem:
            return HTMLResponse(f"<!doctype html><title>Error</title><p>{escape(problem)}</p>", status_code=400)
        if form.get("decision") != "allow":
            return HTMLResponse("<!doctype html><title>Not added</title><p>The app was not added.</p>")
        return RedirectResponse(app.install(form), status_code=302)

    @router.post(TOKEN_PATH)
    async def token(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "invalid_request", "error_description": "a JSON body"}, status_code=400)
        status, answer = app.token(body)
        return JSONResponse(answer, status_code=status)

    @router.get(INSTANCE_PATH)
    async def instance(request: Request) -> Response:
        site = app.site_of(request.headers.get("authorization", ""))
        if site is None:  # an API key is a site's, not an app's: Get App Instance is for apps
            return JSONResponse({"message": "app authentication required"}, status_code=403)
        return JSONResponse(app.identity(site))

    @router.post("/_sandbox/oauth")
    async def configure(settings: AppSettings) -> dict[str, Any]:
        app.client_id = settings.client_id or app.client_id
        app.client_secret = settings.client_secret or app.client_secret
        app.redirect_uris, app.access_ttl_s = set(settings.redirect_uris), settings.access_ttl_s
        return {"client_id": app.client_id, "redirect_uris": sorted(app.redirect_uris), "ttl": app.access_ttl_s}

    @router.get("/_sandbox/oauth")
    async def stats() -> dict[str, Any]:
        return asdict(app.stats)

    @router.post("/_sandbox/oauth/expire")
    async def expire() -> dict[str, Any]:
        return {"expired": app.expire_all()}

    @router.get("/_sandbox/sites")
    async def sites() -> dict[str, Any]:
        return {"sites": [asdict_site(s) for s in app.sites.values()]}

    @router.post("/_sandbox/sites")
    async def add(spec: NewSite) -> dict[str, Any]:
        return asdict_site(app.add_site(spec.name))

    @router.post("/_sandbox/sites/{instance_id}/orders")
    async def place(instance_id: str, spec: OrderSpec) -> Response:
        site = site_or_404(instance_id)
        if isinstance(site, Response):
            return site
        raw = sandbox.new_order(site.state, spec)
        site.state.orders[str(raw["id"])] = raw
        statuses = await deliver(*sandbox.webhook(site.state, raw, "created", thin=False)) if spec.webhook else []
        return JSONResponse({"id": raw["id"], "order": raw, "statuses": statuses})

    @router.post("/_sandbox/sites/{instance_id}/uninstall")
    async def uninstall(instance_id: str) -> Response:
        site = site_or_404(instance_id)
        if isinstance(site, Response):
            return site
        app.remove(site)
        delivery = sandbox.app_event(site.state, "AppRemoved", {"appId": app.client_id})
        return JSONResponse({"statuses": await deliver(*delivery)})

    return router


def asdict_site(site: Site) -> dict[str, Any]:
    return {"instance_id": site.instance_id, "site_id": site.site_id, "name": site.name, "installed": site.installed}
