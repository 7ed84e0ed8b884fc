"""Connecting a BigCommerce store: the single-click app's Auth, Load and Uninstall callbacks.

BigCommerce starts the flow, not us: the merchant installs the app (from the Marketplace, their draft apps,
or our button, which is `GET /start` sending the browser to the app's install page), accepts its scopes, and
BigCommerce sends the browser to `GET /callback` (our Auth callback) with `code`, `scope` and
`context=stores/{hash}`. There is no `state`, so the merchant's email is bound to the browser another way:
`/start` takes it (`ctx.begin`, single-use, `STATE_TTL_S`) and keeps the state in a short-lived cookie
(HttpOnly, SameSite=Lax, path `/connect/bigcommerce`, Secure on https) that the callback takes once. An install
begun inside BigCommerce has no cookie (and the control panel's iframe is cross-site, so Lax keeps ours out
of it anyway): then the email is the store owner's, as BigCommerce's token answer gives it. The page says
which email the store's mail goes to.

The code is exchanged before the page answers (BigCommerce's rule). An install from our button is BigCommerce's
"external install" (`external_install` on the callback): it ends with a redirect to BigCommerce's
`…/install/succeeded` (or `/failed`, the reason in our log), as its docs ask; one from the control panel ends
on our page (connected, and where the mail goes), shown inside the control panel. The store id is the store hash;
the credentials are the token, the hash, our client id and a per-store header (random, 43 characters) that every
hook of ours carries, which is how the connector knows a delivery is that store's (`signature.py`); the app's
client secret is not copied into every store. The order hooks are registered right after the connect
(`subscriptions.ensure`); a failure there leaves the store connected (the hook health check tries again).

`/load` (the merchant opens the app) and `/uninstall` (server to server) carry a `signed_payload_jwt`
(`signed_payload.py`). An uninstall disconnects the store: credentials deleted, `StoreDisconnected`, polling
stopped. A verified uninstall issued before the store's latest connect (a replay after a reinstall) changes
nothing. Our pages are shown inside the control panel, so they may be framed by BigCommerce, by nobody else.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from connectors.bigcommerce import client, subscriptions
from connectors.bigcommerce.install import Installed, InstallRefused, callback_problem, exchange
from connectors.bigcommerce.signature import HEADER_NAME, HEADER_VALUE
from connectors.bigcommerce.signed_payload import SignedPayloadError, verify
from connectors.client import PlatformClient
from connectors.connect.context import BadConnectRequest, ConnectContext
from connectors.connect.pages import connected_page, failed_page
from connectors.connect.states import STATE_TTL_S
from plumbing.config import StoreConfig
from schemas import EmailAddress

log = logging.getLogger(__name__)

PLATFORM = "bigcommerce"
COOKIE = "personalize_bigcommerce_connect"
HOOK_HEADER = "X-Personalize-Hook-Token"
FRAMED_BY = "https://*.bigcommerce.com https://*.mybigcommerce.com"
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailAddress)


def install_url(ctx: ConnectContext) -> str:
    """The app's install page: `PERSONALIZE_BIGCOMMERCE_AUTH_URL` with `{client_id}` filled in."""
    return ctx.app.auth_url.replace("{client_id}", ctx.app.client_id)


def routes(ctx: ConnectContext) -> APIRouter:
    router = APIRouter()
    cookie_path = f"/connect/{PLATFORM}"

    @router.get("/start")
    async def start(merchant_email: str | None = None) -> Response:
        try:
            state = await ctx.begin(merchant_email)
        except BadConnectRequest as bad:
            return failed_page(400, str(bad), "Go back and give the email address your store's mail should go to.")
        answer = RedirectResponse(install_url(ctx), status_code=302)
        answer.set_cookie(
            COOKIE,
            state,
            max_age=STATE_TTL_S,
            path=cookie_path,
            httponly=True,
            samesite="lax",
            secure=ctx.app.base_url.startswith("https://"),
        )
        return answer

    @router.get("/callback")
    @_never_500
    async def callback(request: Request) -> Response:
        q = request.query_params
        # An install from our button (BigCommerce's external install) ends on BigCommerce's own page.
        finish = _Finish(install_url(ctx) if "external_install" in q else None, cookie_path)
        code, scope, context = q.get("code"), q.get("scope"), q.get("context")
        problem = callback_problem(code, scope, context)
        if problem or code is None or scope is None or context is None:
            return finish.failed(400, f"The install cannot finish: {problem}.", _AGAIN)
        remembered = await ctx.resume(request.cookies.get(COOKIE)) if request.cookies.get(COOKIE) else None
        try:
            installed = await exchange(ctx.http, ctx.app, code, scope, context)
        except InstallRefused as refused:
            log.info("bigcommerce install of %s refused: %s", context, refused.what)
            return finish.failed(refused.status, refused.what, _AGAIN)
        email = _email((remembered or {}).get("merchant_email") or installed.owner_email)
        if email is None:
            return finish.failed(400, "BigCommerce gave no owner email for the store.", _WITH_EMAIL)
        page = await ctx.connect(
            installed.store_hash,
            f"store {installed.store_hash}",
            email,
            _credentials(ctx, installed),
            {"base_url": _api_base(ctx, installed.store_hash)},
        )
        await _register_hooks(ctx, installed.store_hash, email)
        return finish.done(page)

    @router.get("/load")
    @_never_500
    async def load(signed_payload_jwt: str | None = None) -> Response:
        try:
            payload = verify(signed_payload_jwt, ctx.app.client_id, ctx.app.secret)
        except SignedPayloadError as refused:
            log.info("bigcommerce load refused: %s", refused)
            return _framed(failed_page(401, "This request did not come from BigCommerce.", _FROM_BIGCOMMERCE))
        store = await ctx.registry.get(PLATFORM, payload.store_hash)
        if store is None or store.status != "connected":
            what = f"BigCommerce store {payload.store_hash} is not connected to personalize."
            return _framed(failed_page(403, what, "Uninstall the app and install it again to connect the store."))
        return _framed(connected_page(PLATFORM, f"store {store.store_id}", store.merchant_email))

    @router.get("/uninstall")
    @_never_500
    async def uninstall(signed_payload_jwt: str | None = None) -> Response:
        """Server to server; BigCommerce expects JSON and reads nothing of it."""
        try:
            payload = verify(signed_payload_jwt, ctx.app.client_id, ctx.app.secret)
        except SignedPayloadError as refused:
            log.info("bigcommerce uninstall refused: %s", refused)
            return JSONResponse({"error": "signed_payload_jwt refused"}, status_code=401)
        store = await ctx.registry.get(PLATFORM, payload.store_hash)
        if store is None or store.status != "connected":
            return JSONResponse({"status": "not connected"})
        if payload.issued_at < int(store.connected_at.timestamp()):
            log.warning("bigcommerce: an uninstall of %s older than its latest connect ignored", store.key)
            return JSONResponse({"status": "ignored: older than the latest install"})
        await ctx.lifecycle.disconnect(PLATFORM, payload.store_hash, "the app was uninstalled in BigCommerce")
        return JSONResponse({"status": "disconnected"})

    return router


_AGAIN = "Install the app again from BigCommerce, or start again from the Connect BigCommerce button."
_WITH_EMAIL = "Start again from the Connect BigCommerce button and give the email your store's mail should go to."
_FROM_BIGCOMMERCE = "Open the app from your BigCommerce control panel."


def _never_500(route: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """The registry, Redis or the broker failing: a clear 503 page (the cause in our log, nothing connected half)."""

    @functools.wraps(route)
    async def guarded(*args: Any, **kwargs: Any) -> Response:
        try:
            return await route(*args, **kwargs)
        except Exception:
            log.exception("bigcommerce: %s failed", route.__name__)
            return _framed(failed_page(503, "personalize cannot finish this just now.", "Try again in a few minutes."))

    return guarded


def _email(value: str | None) -> str | None:
    try:
        return _EMAIL.validate_python(value or "")
    except ValidationError:
        return None


def _api_base(ctx: ConnectContext, store_hash: str) -> str:
    return f"{ctx.app.api_url.rstrip('/')}/stores/{store_hash}"


def _credentials(ctx: ConnectContext, installed: Installed) -> dict[str, str]:
    return {
        "access_token": installed.access_token,
        "store_hash": installed.store_hash,
        "client_id": ctx.app.client_id,
        "scope": installed.scope,
        HEADER_NAME: HOOK_HEADER,
        HEADER_VALUE: secrets.token_urlsafe(32),
    }


async def _register_hooks(ctx: ConnectContext, store_hash: str, email: str) -> None:
    """The order hooks, now; what goes wrong is logged (no secret in it) and left to the hook health check."""
    try:
        credentials = await ctx.registry.credentials(PLATFORM, store_hash)
        store = StoreConfig.model_validate(
            {
                "platform": PLATFORM,
                "store_id": store_hash,
                "merchant_email": email,
                "base_url": _api_base(ctx, store_hash),
                "credentials": credentials.values,
            }
        )
        api = PlatformClient(
            PLATFORM,
            _api_base(ctx, store_hash),
            headers=client.headers(store),
            rate_limit_wait=client.rate_limit_wait,
            attempts=2,
        )
        try:
            health = await subscriptions.ensure(api, store, ctx.app.url(f"/webhooks/{PLATFORM}/{store_hash}"))
        finally:
            await api.aclose()
    except Exception as error:  # connected all the same: orders still come by the poll
        log.warning("bigcommerce: registering the hooks of %s failed: %s", store_hash, type(error).__name__)
        return
    if not health.healthy:
        log.warning("bigcommerce: hooks of %s not all registered: %s", store_hash, "; ".join(health.problems))


class _Finish:
    """How the Auth callback ends: our page in the control panel, or (an external install) a redirect to
    BigCommerce's `…/install/succeeded` or `/failed`, which closes its install window; the cookie cleared."""

    def __init__(self, external_install_url: str | None, cookie_path: str) -> None:
        self._external, self._cookie_path = external_install_url, cookie_path

    def done(self, page: HTMLResponse) -> Response:
        return self._cleared(RedirectResponse(f"{self._external}/succeeded", 302) if self._external else _framed(page))

    def failed(self, status: int, what: str, todo: str) -> Response:
        if self._external:
            return self._cleared(RedirectResponse(f"{self._external}/failed", 302))
        return self._cleared(_framed(failed_page(status, what, todo)))

    def _cleared(self, response: Response) -> Response:
        response.delete_cookie(COOKIE, path=self._cookie_path)  # used once, whatever the outcome
        return response


def _framed(response: HTMLResponse) -> HTMLResponse:
    """BigCommerce shows the Auth and Load callbacks' pages in its control panel's iframe."""
    policy = response.headers.get("content-security-policy", "")
    response.headers["content-security-policy"] = policy.replace(
        "frame-ancestors 'none'", f"frame-ancestors {FRAMED_BY}"
    )
    return response
