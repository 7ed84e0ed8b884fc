"""Connecting an Etsy shop: OAuth 2 authorization code with PKCE (S256), Etsy's only flow (CONNECTING.md §2).

`GET /connect/etsy/start?merchant_email=…` remembers the email and a fresh PKCE verifier under a single-use
state and sends the browser to Etsy's consent page; Etsy sends it back to `/connect/etsy/callback` with a code
(or `error=access_denied`). The callback takes the state (once), trades the code and the verifier for tokens at
the exact redirect URI, asks Etsy whose shop the token opens (getMe: `user_id`, `shop_id`; getShop: its name),
and connects the store.

- Scopes: `transactions_r` (getShopReceipts, getShopReceipt) and `shops_r` (getMe). Nothing to write: the
  connector only reads orders. Webhooks need no scope of ours (they are set in Etsy's portal).
- The store id is Etsy's numeric shop id (`"12345678"`): stable, unique among Etsy shops, and what Etsy's
  webhooks name. Consenting again for a shop already connected (or disconnected) updates that store, with
  the new grant and the new merchant email, rather than making a second one.
- Webhooks: Etsy signs every shop's deliveries with the app's one endpoint secret (set in its portal), so
  each connected shop keeps PERSONALIZE_ETSY_WEBHOOK_SECRET among its credentials and `POST /webhooks/etsy`
  verifies with it. Without it the shop is connected and read by polling only (a warning says so).
- Every failure answers a page saying what happened and what to do, and connects nothing; the code and the
  tokens are never shown or logged.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from connectors.connect.context import BadConnectRequest, ConnectContext
from connectors.connect.pages import failed_page
from connectors.errors import PlatformError
from connectors.etsy.tokens import TokenRefused, exchange_code

log = logging.getLogger(__name__)

SCOPES = ("transactions_r", "shops_r")
ME = "/v3/application/users/me"
SHOP = "/v3/application/shops/{shop_id}"
VERIFIER_BYTES = 64  # 86 characters of base64url: within RFC 7636's 43-128
_CODE = re.compile(r"[A-Za-z0-9._~+/=-]{1,512}")  # a code is opaque, but never long nor spaced
AGAIN = "Start again from the Connect Etsy button."


class ConnectFailed(Exception):
    """A step after consent did not work: `what` for the merchant, `status` for the page."""

    def __init__(self, status: int, what: str, todo: str = AGAIN) -> None:
        super().__init__(what)
        self.status, self.what, self.todo = status, what, todo


@dataclass(frozen=True)
class Shop:
    shop_id: str
    name: str


def challenge_of(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def routes(ctx: ConnectContext) -> APIRouter:
    router = APIRouter()
    app = ctx.app

    @router.get("/start")
    async def start(merchant_email: str | None = None) -> Response:
        """Begin: to Etsy's consent page, with a state and a PKCE challenge of our own."""
        verifier = secrets.token_urlsafe(VERIFIER_BYTES)
        try:
            state = await ctx.begin(merchant_email, code_verifier=verifier)
        except BadConnectRequest as error:
            return failed_page(400, str(error), "Open the connect link with the email address your orders go to.")
        query = {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uri,
            "scope": " ".join(SCOPES),
            "state": state,
            "code_challenge": challenge_of(verifier),
            "code_challenge_method": "S256",
        }
        return RedirectResponse(f"{app.auth_url}?{urlencode(query, quote_via=quote)}", status_code=302)

    @router.get("/callback")
    async def callback(request: Request) -> Response:
        """Etsy's redirect: the state taken once, the code exchanged, the shop read and connected."""
        query = request.query_params
        try:
            remembered = await ctx.resume(query.get("state"))
            if remembered is None:
                return ctx.expired_state()
            if query.get("error"):
                return refused_page(query.get("error", ""))
            credentials, shop = await granted(ctx, query.get("code") or "", remembered["code_verifier"])
            return await ctx.connect(
                shop.shop_id, shop.name, remembered["merchant_email"], credentials, {"base_url": app.api_url}
            )
        except ConnectFailed as failed:
            log.warning("etsy connect failed: %s", failed.what)
            return failed_page(failed.status, failed.what, failed.todo)
        except Exception:  # the registry, Redis or the broker away: a page, never a 500
            log.exception("etsy connect could not finish")
            return failed_page(503, "We could not finish connecting your shop just now.", f"Try again soon. {AGAIN}")

    return router


def refused_page(error: str) -> Response:
    if error == "access_denied":
        return failed_page(
            403,
            "Access to your Etsy shop was not granted, so nothing was connected.",
            "To connect, start again and choose Allow access on Etsy's page.",
        )
    return failed_page(400, f"Etsy did not grant access ({error[:100]}).", AGAIN)


async def granted(ctx: ConnectContext, code: str, verifier: str) -> tuple[dict[str, str], Shop]:
    """The store's credentials and its shop, from the consent's code."""
    if not _CODE.fullmatch(code):
        raise ConnectFailed(400, "Etsy sent no usable authorization code.")
    app = ctx.app
    try:
        tokens = await exchange_code(ctx.http, app, code, verifier)
    except TokenRefused as refused:
        raise ConnectFailed(400, f"Etsy did not accept the sign-in ({refused.error}): it may have expired.") from None
    except (PlatformError, httpx.HTTPError) as error:
        raise ConnectFailed(502, f"Etsy's token service did not answer as expected ({type(error).__name__}).") from None
    if "refresh_token" not in tokens:
        raise ConnectFailed(502, "Etsy granted access without a refresh token, so the shop could not stay connected.")
    shop = await shop_of(ctx.http, app.api_url, app.client_id, app.secret, tokens["access_token"])
    credentials = {"keystring": app.client_id, "shared_secret": app.secret, **tokens, "shop_id": shop.shop_id}
    # Etsy signs every shop's deliveries with the app's one endpoint secret; each store verifies with it.
    if app.webhook_secret is not None:
        credentials["webhook_secret"] = app.webhook_secret.get_secret_value()
    else:
        log.warning(
            "etsy connect: PERSONALIZE_ETSY_WEBHOOK_SECRET is not set: shop %s is read by polling only", shop.shop_id
        )
    return credentials, shop


async def shop_of(http: httpx.AsyncClient, api_url: str, keystring: str, secret: str, access_token: str) -> Shop:
    """Whose shop the token opens: getMe's `shop_id`, and getShop's `shop_name` (the id when Etsy will not say)."""
    headers = {"x-api-key": f"{keystring}:{secret}", "authorization": f"Bearer {access_token}"}
    try:
        me = await http.get(f"{api_url}{ME}", headers=headers)
    except httpx.HTTPError as error:
        raise ConnectFailed(502, f"Etsy did not say whose shop this is ({type(error).__name__}).") from None
    body = _json(me) if me.status_code == 200 else None
    if body is None:
        raise ConnectFailed(502, f"Etsy did not say whose shop this is (answer {me.status_code}).")
    shop_id = body.get("shop_id")
    if shop_id is None:
        raise ConnectFailed(400, "This Etsy account has no shop.", "Open your shop on Etsy first, then connect it.")
    if isinstance(shop_id, bool) or not isinstance(shop_id, int) or shop_id <= 0:
        raise ConnectFailed(502, "Etsy named the shop in a way we cannot read.")
    return Shop(str(shop_id), await _shop_name(http, api_url, shop_id, headers) or f"#{shop_id}")


async def _shop_name(http: httpx.AsyncClient, api_url: str, shop_id: int, headers: dict[str, str]) -> str | None:
    """Only for the page: the shop connects whatever getShop answers."""
    try:
        answer = await http.get(f"{api_url}{SHOP.format(shop_id=shop_id)}", headers=headers)
    except httpx.HTTPError:
        return None
    body = _json(answer) if answer.status_code == 200 else None
    name = body.get("shop_name") if body else None
    return name[:200] if isinstance(name, str) and name.strip() else None


def _json(response: httpx.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
