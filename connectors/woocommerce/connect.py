"""Connecting a WooCommerce store: WooCommerce's own key delivery (`<store>/wc-auth/v1/authorize`).

WooCommerce has no app server and no OAuth state (../shared/CONNECTING.md §1.1): the browser goes to the
merchant's own site, the site POSTs fresh API keys to our `callback_url` server to server, and only after we
answered that POST exactly 200 does it send the browser to our `return_url` with `success=1&user_id=…`
(`success=0` when the merchant chose Deny). So:

- `GET /start?merchant_email=&store_url=`: the store URL is checked where it enters (`store_url.py`); the flow's
  single-use state is WooCommerce's `user_id` (echoed in the key POST and on the way back), remembering the
  store we sent the merchant to (the POST does not say which store it comes from); a second single-use ticket
  rides in `return_url`'s own query and binds the browser's return to this flow.
- `POST /keys`: the key delivery, at most `MAX_KEYS_BYTES`, matched to its state by `user_id`, once; the keys
  are tried against the store we sent the merchant to (`identity.py`), so a POST from anywhere else connects
  nothing. Then the store is connected: the keys and a webhook secret of our own (`secrets`, one per store,
  registered with its webhooks by `subscriptions.py` once the store runs); `base_url` is the store's URL.
  Anything but 200 makes WooCommerce delete the key and show the merchant its error page.
- `GET /callback`: the page the merchant sees: connected, denied, or the keys never came.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Literal
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, RedirectResponse

from connectors.connect.context import BadConnectRequest, ConnectContext
from connectors.connect.pages import connected_page, failed_page
from connectors.stores.details import WEBHOOK_SECRET
from connectors.woocommerce.identity import KeysRefusedError, site_name, verified_credentials
from connectors.woocommerce.store_url import StoreUrlError, normalized
from plumbing.config import StoreConfig, is_loopback_host
from plumbing.hot_routes import body_within

log = logging.getLogger(__name__)

AUTH_PATH = "/wc-auth/v1/authorize"
SCOPE = "read_write"  # reading orders needs read; creating webhooks (and products) needs write
MAX_KEYS_BYTES = 4096  # the delivery is ~250 bytes of JSON


class KeyDelivery(BaseModel):
    """The JSON `WC_Auth::create_keys` returns and `post_consumer_data` POSTs."""

    model_config = ConfigDict(extra="ignore")

    key_id: int
    user_id: str = Field(min_length=1, max_length=128)
    consumer_key: str = Field(pattern=r"^ck_[A-Za-z0-9]{20,64}$")
    consumer_secret: str = Field(pattern=r"^cs_[A-Za-z0-9]{20,64}$")
    key_permissions: Literal["read", "write", "read_write"]

    def __repr__(self) -> str:  # the secret stays out of logs and errors
        return f"KeyDelivery(key_id={self.key_id}, key_permissions={self.key_permissions!r})"


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _plain(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def routes(ctx: ConnectContext) -> APIRouter:
    router = APIRouter()
    dev = is_loopback_host(urlsplit(ctx.app.base_url).hostname or "")
    authorize_path = urlsplit(ctx.app.auth_url).path or AUTH_PATH

    @router.get("/start")
    async def start(merchant_email: str | None = None, store_url: str | None = None) -> Response:
        try:
            where = normalized(store_url, dev=dev)
            state = await ctx.begin(merchant_email, kind="keys", store_url=where.url, store_id=where.store_id)
        except (BadConnectRequest, StoreUrlError) as error:
            return failed_page(400, str(error), "Go back, check it and start again.")
        ticket = await ctx.states.issue(
            ctx.platform, {"kind": "return", "keys": _digest(state), "store_id": where.store_id}
        )
        query = {
            "app_name": ctx.app.client_id,
            "scope": SCOPE,
            "user_id": state,
            "return_url": ctx.app.url(f"/connect/{ctx.platform}/callback?{urlencode({'ticket': ticket})}"),
            "callback_url": ctx.app.url(f"/connect/{ctx.platform}/keys"),
        }
        return RedirectResponse(f"{where.url}{authorize_path}?{urlencode(query)}", status_code=302)

    @router.post("/keys")
    async def keys(request: Request) -> Response:
        if int(request.headers.get("content-length") or 0) > MAX_KEYS_BYTES:
            return _plain(413, f"a key delivery is at most {MAX_KEYS_BYTES} bytes")
        body = await body_within(request, MAX_KEYS_BYTES)
        if body is None:
            return _plain(413, f"a key delivery is at most {MAX_KEYS_BYTES} bytes")
        try:
            delivery = KeyDelivery.model_validate_json(body)
        except ValidationError as error:
            fields = sorted({str(e["loc"][0]) for e in error.errors(include_input=False) if e["loc"]})
            return _plain(400, f"not a WooCommerce key delivery (fields: {', '.join(fields) or 'body'})")
        remembered = await ctx.resume(delivery.user_id)  # taken now, whatever follows: a replay finds nothing
        if remembered is None or remembered.get("kind") != "keys":
            return _plain(400, "user_id is unknown, expired or used")
        if delivery.key_permissions != SCOPE:
            return _plain(400, f"the key must be {SCOPE}: webhooks are created with it")
        store = StoreConfig(
            platform="woocommerce",
            store_id=remembered["store_id"],
            merchant_email=remembered["merchant_email"],
            base_url=remembered["store_url"],
            credentials={"consumer_key": delivery.consumer_key, "consumer_secret": delivery.consumer_secret},
        )
        try:
            credentials = await verified_credentials(ctx.http, store)
        except KeysRefusedError as error:
            log.warning("woocommerce:%s key delivery refused: %s", store.store_id, error)
            return _plain(400, f"the keys do not work on the store they were sent for: {error}")
        name = await site_name(ctx.http, remembered["store_url"], store.store_id)
        await ctx.lifecycle.connect(
            ctx.platform,
            store.store_id,
            store.merchant_email,
            {**credentials, WEBHOOK_SECRET: secrets.token_urlsafe(32)},
            {"base_url": remembered["store_url"]},
        )
        log.info("woocommerce:%s connected (%s, key %d)", store.store_id, name, delivery.key_id)
        return JSONResponse({"connected": store.store_id})

    @router.get("/callback")
    async def callback(ticket: str | None = None, success: str | None = None, user_id: str = "") -> Response:
        remembered = await ctx.resume(ticket)
        if remembered is None or remembered.get("kind") != "return":
            return ctx.expired_state()
        if not hmac.compare_digest(_digest(user_id), remembered["keys"]):
            return ctx.expired_state()
        never_came = await ctx.resume(user_id)  # still there: no key POST took it, and none can from now on
        if success != "1":
            return failed_page(
                403,
                "You chose Deny on your store's page, so nothing was connected.",
                "To connect the store, start again and choose Approve.",
            )
        store_id = remembered["store_id"]
        store = await ctx.registry.get(ctx.platform, store_id)
        if never_came is not None or store is None or store.status != "connected":
            return failed_page(
                502,
                "Your store approved the connection, but its API keys did not reach us.",
                "Start again. If it happens again, your host may block the store's outgoing requests.",
            )
        return connected_page(ctx.platform, store_id, store.merchant_email)

    return router
