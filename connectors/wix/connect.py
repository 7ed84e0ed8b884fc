"""Connecting a Wix site: the external install, then a client-credentials token for the instance it made.

Wix's flow for new apps (../shared/CONNECTING.md §3.1; dev.wix.com … about-the-external-install-flow):
`/start` sends the browser to `https://www.wix.com/app-installer?appId=<app id>&postInstallationUrl=<our
callback, with our state in its query>`; the merchant picks a site and agrees; Wix sends the browser to that
URL, keeping our `state` and appending `appId`, `tenantId` (site id) and `instanceId`. There is no code to
exchange: `/callback` takes the state (once), asks Create Access Token for that instance with the app's id
and secret (which proves the app is installed there: an instance we were not given a token for is refused),
reads Get App Instance with the token for the site's id and name, and connects the store.

Decisions:
- The store id is the site id Get App Instance answers (the instance id where it answers none), never the
  `tenantId` of the query, which anyone can write.
- The credentials are the instance id (what per-app webhooks are routed by), the token and its `expires_at`,
  and the app's public key as the store's webhook secret (every site's webhooks are signed with it). Without
  PERSONALIZE_WIX_PUBLIC_KEY the store still connects and is polled; its webhooks are refused (logged).
- The query's `instanceId` is checked for shape before it goes into a request, and must be the one the
  token's identity names.
"""

from __future__ import annotations

import hmac
import logging
import re
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from connectors.connect.context import BadConnectRequest, ConnectContext
from connectors.connect.pages import failed_page
from connectors.errors import GrantRevokedError, PlatformError
from connectors.wix.tokens import create_token

log = logging.getLogger(__name__)

INSTANCE = "/apps/v1/instance"  # Get App Instance
ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")  # Wix ids are GUIDs; anything else is not sent on


class IdentityError(Exception):
    """Get App Instance did not say which site this is."""


def routes(ctx: ConnectContext) -> APIRouter:
    router = APIRouter()
    app = ctx.app

    @router.get("/start")
    async def start(merchant_email: str | None = None) -> Response:
        try:
            state = await ctx.begin(merchant_email)
        except BadConnectRequest as error:
            return failed_page(400, str(error), "Go back and enter the email address the store's mail goes to.")
        callback = f"{app.redirect_uri}?{urlencode({'state': state})}"
        return RedirectResponse(
            f"{app.auth_url}?{urlencode({'appId': app.client_id, 'postInstallationUrl': callback})}", 302
        )

    @router.get("/callback")
    async def callback(request: Request) -> Response:
        query = request.query_params
        remembered = await ctx.resume(query.get("state"))
        if remembered is None:
            return ctx.expired_state()
        instance_id = query.get("instanceId") or ""
        if not ID.match(instance_id) or query.get("appId") not in (None, app.client_id):
            return failed_page(
                400, "Wix did not say which site the app was added to.", "Start again from the Connect Wix button."
            )
        try:
            token = await create_token(ctx.http, app, instance_id)
            store_id, name = await site_of(ctx.http, app.api_url, token.access_token, instance_id)
        except GrantRevokedError:
            return failed_page(
                400, "Wix says the app is not installed on that site.", "Start again and agree to add the app."
            )
        except (PlatformError, IdentityError, httpx.HTTPError) as error:
            log.warning("wix connect of instance %s failed: %s", instance_id, error)
            return failed_page(502, "Wix did not answer as expected.", "Try again in a few minutes.")
        credentials = {
            "instance_id": instance_id,
            "access_token": token.access_token,
            "expires_at": str(token.expires_at),
        }
        if app.public_key:
            credentials["webhook_secret"] = app.public_key
        else:
            log.warning("PERSONALIZE_WIX_PUBLIC_KEY is unset: webhooks of wix store %s will be refused", store_id)
        merchant_email = remembered["merchant_email"]
        return await ctx.connect(store_id, name, merchant_email, credentials, {"base_url": app.api_url})

    return router


async def site_of(http: httpx.AsyncClient, api_url: str, access_token: str, instance_id: str) -> tuple[str, str]:
    """(store id, name) of the site the token is for, from Get App Instance; IdentityError if it will not say."""
    response = await http.get(f"{api_url}{INSTANCE}", headers={"Authorization": access_token})
    if response.status_code != 200:
        raise IdentityError(f"Get App Instance answered {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise IdentityError("Get App Instance answered no JSON") from None
    instance = answer.get("instance") if isinstance(answer, dict) else None
    site = answer.get("site") if isinstance(answer, dict) else None
    if not isinstance(instance, dict) or not isinstance(site, dict):
        raise IdentityError("Get App Instance answered without instance and site")
    named = instance.get("instanceId")
    if not isinstance(named, str) or not hmac.compare_digest(named.encode(), instance_id.encode()):
        raise IdentityError("Get App Instance names another instance than the one installed")
    site_id = site.get("siteId")
    store_id = site_id if isinstance(site_id, str) and ID.match(site_id) else instance_id
    name = site.get("siteDisplayName") or site.get("url") or store_id
    return store_id, str(name)[:200]
