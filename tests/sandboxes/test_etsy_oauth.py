"""The Etsy sandbox's OAuth 2 server, as a connector meets it: consent, PKCE (S256 only), exact redirect URIs,
one-use codes, access tokens that expire, refresh tokens that rotate, and a revoked grant."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.etsy import TOKEN_PATH, EtsySandbox

KEYSTRING, SHARED, SHOP = "oauthkeystring", "oauthshared", "777001"
REDIRECT = "https://app.example.com/connect/etsy/callback"
API_KEY = {"x-api-key": f"{KEYSTRING}:{SHARED}"}


@pytest.fixture
async def etsy() -> httpx.AsyncClient:
    store = StoreConfig(
        platform="etsy",
        store_id="oauth-shop",
        merchant_email="m@example.com",
        base_url="https://openapi.etsy.com",
        credentials={"keystring": KEYSTRING, "shared_secret": SHARED, "shop_id": SHOP},
    )
    app = make_sandbox_app(EtsySandbox(), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://etsy") as client:
        await client.post("/_sandbox/oauth", json={"redirect_uris": [REDIRECT], "access_ttl_s": 3600})
        yield client


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def consent(etsy: httpx.AsyncClient, challenge: str, *, decision: str = "allow", **extra: str) -> dict:
    query = {
        "response_type": "code",
        "client_id": KEYSTRING,
        "redirect_uri": REDIRECT,
        "scope": "transactions_r shops_r",
        "state": "st-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    page = await etsy.get("/oauth/connect", params=query)
    assert page.status_code == 200 and "Allow access" in page.text
    answer = await etsy.post("/oauth/connect", data={**query, "decision": decision})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def exchange(etsy: httpx.AsyncClient, code: str, verifier: str, redirect: str = REDIRECT) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": KEYSTRING,
        "redirect_uri": redirect,
        "code": code,
        "code_verifier": verifier,
    }
    return await etsy.post("/v3/public/oauth/token", data=form)


async def refresh(etsy: httpx.AsyncClient, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "client_id": KEYSTRING, "refresh_token": token}
    return await etsy.post("/v3/public/oauth/token", data=form)


def bearer(token: str) -> dict[str, str]:
    return {**API_KEY, "authorization": f"Bearer {token}"}


async def test_a_seller_grants_access_and_the_token_reads_their_shop(etsy: httpx.AsyncClient) -> None:
    verifier, challenge = pkce()
    back = await consent(etsy, challenge)
    assert back["state"] == "st-1"
    tokens = (await exchange(etsy, back["code"], verifier)).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert tokens["access_token"].startswith("777002.")  # Etsy prefixes tokens with the seller's user id
    me = await etsy.get("/v3/application/users/me", headers=bearer(tokens["access_token"]))
    assert me.json() == {"user_id": 777002, "shop_id": 777001}
    receipts = await etsy.get(f"/v3/application/shops/{SHOP}/receipts", headers=bearer(tokens["access_token"]))
    assert receipts.status_code == 200


async def test_a_code_works_once_and_only_with_its_verifier_and_redirect(etsy: httpx.AsyncClient) -> None:
    verifier, challenge = pkce()
    code = (await consent(etsy, challenge))["code"]
    wrong = await exchange(etsy, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = (await consent(etsy, challenge))["code"]
    assert (await exchange(etsy, code, verifier, redirect=REDIRECT + "/other")).status_code == 400
    code = (await consent(etsy, challenge))["code"]
    assert (await exchange(etsy, code, verifier)).status_code == 200
    assert (await exchange(etsy, code, verifier)).json()["error"] == "invalid_grant"  # used


async def test_consent_refuses_an_unregistered_redirect_and_plain_pkce(etsy: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    base = {"response_type": "code", "client_id": KEYSTRING, "state": "s", "code_challenge": challenge}
    other = await etsy.get("/oauth/connect", params={**base, "redirect_uri": "https://evil.example/cb"})
    assert other.status_code == 400 and "redirect URL is not permitted" in other.text
    plain = await etsy.get(
        "/oauth/connect", params={**base, "redirect_uri": REDIRECT, "code_challenge_method": "plain"}
    )
    assert plain.status_code == 400
    denied = await consent(etsy, challenge, decision="deny")
    assert denied == {"error": "access_denied", "state": "st-1"}


async def test_an_access_token_expires_and_a_refresh_rotates_the_refresh_token(etsy: httpx.AsyncClient) -> None:
    await etsy.post("/_sandbox/oauth", json={"redirect_uris": [REDIRECT], "access_ttl_s": 0.2})
    verifier, challenge = pkce()
    first = (await exchange(etsy, (await consent(etsy, challenge))["code"], verifier)).json()
    await asyncio.sleep(0.3)
    expired = await etsy.get("/v3/application/users/me", headers=bearer(first["access_token"]))
    assert expired.status_code == 401
    assert expired.json() == {"error": "invalid_token", "error_description": "access token is expired"}

    second = (await refresh(etsy, first["refresh_token"])).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await etsy.get("/v3/application/users/me", headers=bearer(second["access_token"]))).status_code == 200
    reused = await refresh(etsy, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error_description"] == "refresh_token is revoked"
    stats = (await etsy.get("/_sandbox/oauth")).json()
    assert (stats["refreshes"], stats["reused_refresh"]) == (1, 1)


async def test_a_revoked_grant_refuses_its_tokens_and_its_refresh(etsy: httpx.AsyncClient) -> None:
    verifier, challenge = pkce()
    tokens = (await exchange(etsy, (await consent(etsy, challenge))["code"], verifier)).json()
    await etsy.post("/_sandbox/oauth/revoke")
    assert (await etsy.get("/v3/application/users/me", headers=bearer(tokens["access_token"]))).status_code == 401
    revoked = await refresh(etsy, tokens["refresh_token"])
    assert revoked.json() == {"error": "invalid_grant", "error_description": "refresh_token is revoked"}


async def test_every_call_needs_the_shared_secret_in_x_api_key(etsy: httpx.AsyncClient) -> None:
    verifier, challenge = pkce()
    tokens = (await exchange(etsy, (await consent(etsy, challenge))["code"], verifier)).json()
    keystring_only = {"x-api-key": KEYSTRING, "authorization": f"Bearer {tokens['access_token']}"}
    answer = await etsy.get("/v3/application/users/me", headers=keystring_only)
    assert answer.status_code == 403 and answer.json() == {"error": "Shared secret is required in x-api-key header."}


async def test_the_app_is_set_through_the_control_and_its_secret_then_opens_the_api(etsy: httpx.AsyncClient) -> None:
    set_app = {"redirect_uris": [REDIRECT], "client_id": "otherapp", "client_secret": "othersecret"}
    answer = (await etsy.post("/_sandbox/oauth", json=set_app)).json()
    assert answer["client_id"] == "otherapp" and "client_secret" not in answer
    verifier, challenge = pkce()
    back = await consent(etsy, challenge, client_id="otherapp")
    form = {"grant_type": "authorization_code", "client_id": "otherapp", "redirect_uri": REDIRECT}
    tokens = (await etsy.post(TOKEN_PATH, data={**form, "code": back["code"], "code_verifier": verifier})).json()
    auth = {"authorization": f"Bearer {tokens['access_token']}"}
    assert (await etsy.get("/v3/application/users/me", headers={**API_KEY, **auth})).status_code == 401  # old app
    new_key = {"x-api-key": "otherapp:othersecret"}
    assert (await etsy.get("/v3/application/users/me", headers={**new_key, **auth})).status_code == 200
    assert (await exchange(etsy, back["code"], verifier)).json()["error"] == "invalid_client"


async def test_a_token_reaches_only_what_its_scopes_cover(etsy: httpx.AsyncClient) -> None:
    verifier, challenge = pkce()
    back = await consent(etsy, challenge, scope="shops_r")
    tokens = (await exchange(etsy, back["code"], verifier)).json()
    assert (await etsy.get("/v3/application/users/me", headers=bearer(tokens["access_token"]))).status_code == 200
    receipts = await etsy.get(f"/v3/application/shops/{SHOP}/receipts", headers=bearer(tokens["access_token"]))
    assert receipts.status_code == 403 and receipts.json() == {"error": "Missing required scope: transactions_r"}
    renewed = (await refresh(etsy, tokens["refresh_token"])).json()  # a refresh keeps the grant's scopes
    again = await etsy.get(f"/v3/application/shops/{SHOP}/receipts", headers=bearer(renewed["access_token"]))
    assert again.status_code == 403


async def test_get_shop_names_the_shop(etsy: httpx.AsyncClient) -> None:
    verifier, challenge = pkce()
    tokens = (await exchange(etsy, (await consent(etsy, challenge))["code"], verifier)).json()
    shop = await etsy.get(f"/v3/application/shops/{SHOP}", headers=bearer(tokens["access_token"]))
    assert shop.json() == {"shop_id": 777001, "shop_name": "oauth-shop", "user_id": 777002}
    assert (await etsy.get("/v3/application/shops/1", headers=bearer(tokens["access_token"]))).status_code == 404


async def test_the_stats_say_how_old_each_refreshed_token_was(etsy: httpx.AsyncClient) -> None:
    verifier, challenge = pkce()
    tokens = (await exchange(etsy, (await consent(etsy, challenge))["code"], verifier)).json()
    await refresh(etsy, tokens["refresh_token"])
    await refresh(etsy, tokens["refresh_token"])  # spent
    stats = (await etsy.get("/_sandbox/oauth")).json()
    assert (stats["refresh_attempts"], stats["refreshes"], len(stats["refreshed_ages_s"])) == (2, 1, 1)
    assert stats["refreshed_ages_s"][0] >= 0
