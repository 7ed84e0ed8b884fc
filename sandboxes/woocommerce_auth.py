"""WooCommerce's key delivery (`/wc-auth/v1/authorize`) and its REST API keys, as `WC_Auth` and
`WC_REST_Authentication` run them (woocommerce/woocommerce, `includes/class-wc-auth.php`,
`includes/class-wc-rest-authentication.php`; ../shared/CONNECTING.md §1.1-1.2).

- `GET /wc-auth/v1/authorize?app_name&scope&user_id&return_url&callback_url`: `make_validation()` first (a missing
  or non-scalar parameter, a scope other than read / write / read_write, a URL that does not validate, a
  callback_url not over SSL: WordPress's `wp_die`, answered 401 "Error: …."), then the grant-access page of a
  logged-in shop manager: Approve is a link to `access_granted` with a nonce, Deny a link to
  `return_url?success=0&user_id=…`.
- `GET /wc-auth/v1/access_granted`: the nonce checked, a key created (`ck_`/`cs_` + 40 hex), its JSON
  `{key_id, user_id, consumer_key, consumer_secret, key_permissions}` POSTed to callback_url, and only on an answer
  of exactly 200 the browser sent to `return_url?success=1&user_id=…`; any other answer or a transport error
  deletes the key (`maybe_delete_key`) and shows the error page (401).
- Keys answer the REST API with their permissions (GET needs read, anything else write); a revoked one
  (`POST /_sandbox/keys/{key_id}/revoke`, the merchant's Revoke in Settings › Advanced › REST API) answers 401.

One departure, for `dev` and the tests: a callback_url over plain http is accepted when its host is loopback
(WooCommerce demands https, and `wp_safe_remote_post` refuses loopback hosts outright).
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from woocommerce.oauth import OAuth

AUTH_PATH = "/wc-auth/v1/authorize"
GRANTED_PATH = "/wc-auth/v1/access_granted"
PARAMETERS = ("app_name", "user_id", "return_url", "callback_url", "scope")
SCOPES = ("read", "write", "read_write")
READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class ApiKey:
    key_id: int
    consumer_key: str
    consumer_secret: str
    permissions: str
    description: str
    revoked: bool = False


Post = Callable[[str, bytes, dict[str, str]], Awaitable[int | str]]


@dataclass
class WooKeys:
    """The store's `woocommerce_api_keys` table, and what the key POSTs got back (tests read `posts`). `post` is
    how the store reaches a callback URL (tests may route it in process)."""

    post: Post
    keys: dict[int, ApiKey] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)
    posts: list[dict[str, Any]] = field(default_factory=list)
    _next_id: int = 1

    def add(self, consumer_key: str, consumer_secret: str, permissions: str, description: str) -> ApiKey:
        key = ApiKey(self._next_id, consumer_key, consumer_secret, permissions, description)
        self.keys[key.key_id] = key
        self._next_id += 1
        return key

    def by_consumer_key(self, consumer_key: str) -> ApiKey | None:
        for key in self.keys.values():
            if not key.revoked and hmac.compare_digest(key.consumer_key.encode(), consumer_key.encode()):
                return key
        return None


def _wp_die(message: str) -> HTMLResponse:
    page = f"<!doctype html><title>Access denied</title><p>Error: {escape(message)}.</p>"
    return HTMLResponse(page, status_code=401)


def _formatted(url: str) -> str:
    """`get_formatted_url`: URL-decoded, `https://` put in front of one without a scheme."""
    url = unquote(url)
    return url if "://" in url else "https://" + url


def _valid_url(url: str) -> bool:
    """Enough of PHP's FILTER_VALIDATE_URL: a scheme, a host, no spaces."""
    parts = urlsplit(url)
    return bool(parts.scheme and parts.hostname) and not any(c.isspace() for c in url)


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _problem(query: dict[str, str]) -> str | None:
    """`make_validation()`: why this request cannot be shown the grant page, in WooCommerce's words."""
    for name in PARAMETERS:
        if not query.get(name):
            return f"Missing parameter {name}"
    if query["scope"] not in SCOPES:
        return f"Invalid scope {query['scope']}"
    for name in ("return_url", "callback_url"):
        if not _valid_url(_formatted(query[name])):
            return f"The {_formatted(query[name])} is not a valid URL"
    callback = urlsplit(_formatted(query["callback_url"]))
    if callback.scheme.lower() != "https" and not (callback.scheme == "http" and _loopback(callback.hostname)):
        return "The callback_url needs to be over SSL"
    return None


def _with_query(url: str, **params: str) -> str:
    """WordPress's `add_query_arg`: the URL's own query kept, these added (replacing any of the same name)."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] not in params]
    query = "&".join([*kept, urlencode(params)])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _clean(value: str) -> str:
    """`wc_clean` of a short value: tags and control characters gone, trimmed."""
    return "".join(c for c in value if c.isprintable() and c not in "<>").strip()


def grant_page(query: dict[str, str], nonce: str) -> str:
    granted = f"{GRANTED_PATH}?{urlencode({**{k: query[k] for k in PARAMETERS}, 'wc_auth_nonce': nonce})}"
    deny = _with_query(_formatted(query["return_url"]), success="0", user_id=_clean(query["user_id"]))
    app = escape(_clean(query["app_name"]))
    scope = {"read": "Read", "write": "Write", "read_write": "Read/Write"}[query["scope"]]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Grant access</title></head><body>'
        f"<h1>{app} would like to connect to your store</h1>"
        f"<p>This will give &quot;<strong>{app}</strong>&quot; <strong>{scope}</strong> access.</p>"
        '<p class="wc-auth-actions">'
        f'<a href="{escape(granted)}" class="button button-primary wc-auth-approve">Approve</a> '
        f'<a href="{escape(deny)}" class="button wc-auth-deny">Deny</a></p></body></html>'
    )


def auth_router(keys: WooKeys) -> APIRouter:
    router = APIRouter()

    @router.get(AUTH_PATH)
    async def authorize(request: Request) -> Response:
        query = dict(request.query_params)
        problem = _problem(query)
        if problem:
            return _wp_die(problem)
        nonce = secrets.token_hex(5)  # wp_create_nonce: ten hex characters
        keys.nonces.add(nonce)
        return HTMLResponse(grant_page(query, nonce))

    @router.get(GRANTED_PATH)
    async def access_granted(request: Request) -> Response:
        query = dict(request.query_params)
        problem = _problem(query)
        if problem:
            return _wp_die(problem)
        if query.get("wc_auth_nonce") not in keys.nonces:
            return _wp_die("Invalid nonce verification")
        key = keys.add(
            "ck_" + secrets.token_hex(20),
            "cs_" + secrets.token_hex(20),
            query["scope"],
            f"{_clean(query['app_name'])[:170]} - API",
        )
        body = {
            "key_id": key.key_id,
            "user_id": query["user_id"],
            "consumer_key": key.consumer_key,
            "consumer_secret": key.consumer_secret,
            "key_permissions": key.permissions,
        }
        # post_consumer_data: `wp_safe_remote_post`, JSON, no redirects followed
        json_type = {"Content-Type": "application/json;charset=UTF-8"}
        answer = await keys.post(_formatted(query["callback_url"]), json.dumps(body).encode(), json_type)
        keys.posts.append({"key_id": key.key_id, "answer": answer})
        if answer != 200:
            del keys.keys[key.key_id]  # maybe_delete_key
            if isinstance(answer, str):  # a transport error: WordPress shows its message
                return _wp_die(f"cURL error: {answer}")
            return _wp_die("An error occurred in the request and at the time were unable to send the consumer data")
        back = _with_query(_formatted(query["return_url"]), success="1", user_id=_clean(query["user_id"]))
        return RedirectResponse(back, status_code=302)

    @router.get("/_sandbox/keys")
    async def listing() -> dict[str, Any]:
        return {
            "keys": [
                {
                    "key_id": k.key_id,
                    "truncated_key": k.consumer_key[-7:],
                    "permissions": k.permissions,
                    "description": k.description,
                    "revoked": k.revoked,
                }
                for k in keys.keys.values()
            ],
            "posts": keys.posts,
        }

    @router.post("/_sandbox/keys/{key_id}/revoke")
    async def revoke(key_id: int) -> Response:
        key = keys.keys.get(key_id)
        if key is None:
            return JSONResponse({"message": "no such key"}, 404)
        key.revoked = True
        return JSONResponse({"key_id": key_id, "revoked": True})

    return router


# --- the REST API's authentication (WC_REST_Authentication) ----------------------------------------------------


def _error(code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": {"status": 401}}, status_code=401)


def refusal(keys: WooKeys, request: Request, strips_authorization: bool) -> Response | None:
    """None when the request is authenticated with a live key of enough permission; WooCommerce's 401 otherwise.

    Over HTTPS: Basic, or (when the server passed no `Authorization`) `consumer_key`/`consumer_secret` in the
    query. An unknown or revoked key there makes `perform_basic_authentication` return false without an error, so
    the request runs as nobody and the endpoint's permission check answers 401 "Sorry, you cannot list
    resources."; a known key with the wrong secret is "Consumer secret is invalid.". Elsewhere OAuth 1.0a."""
    header = "" if strips_authorization else request.headers.get("authorization", "")
    params = dict(request.query_params)
    if header.startswith("Basic "):
        given_key, _, given_secret = base64.b64decode(header[6:]).decode(errors="replace").partition(":")
    elif request.url.scheme == "https" and "consumer_key" in params:
        given_key, given_secret = params["consumer_key"], params.get("consumer_secret", "")
    else:
        return _oauth_refusal(keys, request, params)
    key = keys.by_consumer_key(given_key)
    if key is None:
        return _error("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    if not hmac.compare_digest(key.consumer_secret.encode(), given_secret.encode()):
        return _error("woocommerce_rest_authentication_error", "Consumer secret is invalid.")
    return _permission_refusal(key, request.method)


def _oauth_refusal(keys: WooKeys, request: Request, params: dict[str, str]) -> Response | None:
    signature = params.pop("oauth_signature", None)
    key = keys.by_consumer_key(params.get("oauth_consumer_key", ""))
    if key is None:
        return _error("woocommerce_rest_authentication_error", "Consumer key is invalid.")
    url = str(request.url).split("?", 1)[0]
    oauth = OAuth(url, key.consumer_key, key.consumer_secret, version="wc/v3", method=request.method)
    expected = oauth.generate_oauth_signature(params, url)
    if not signature or not hmac.compare_digest(signature.encode(), expected.encode()):
        return _error("woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match.")
    return _permission_refusal(key, request.method)


def _permission_refusal(key: ApiKey, method: str) -> Response | None:
    """`check_permissions`: read keys read, write keys write, read_write both."""
    needed = "read" if method in READS else "write"
    if key.permissions == "read_write" or key.permissions == needed:
        return None
    return _error("woocommerce_rest_authentication_error", f"The API key provided does not have {needed} permissions.")
