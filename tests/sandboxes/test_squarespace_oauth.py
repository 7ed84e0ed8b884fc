"""The Squarespace sandbox's OAuth server as a connector meets it: the confirmation page, Basic client
authentication at the tokens endpoint, refresh tokens only for `access_type=offline`, rotation, expiry."""

from __future__ import annotations

import asyncio
import time

import httpx

from sandboxes.squarespace import TOKEN_PATH
from tests.connectors.squarespace_stack import API_KEY, CLIENT_ID, CLIENT_SECRET, WEBSITE_ID, grant, squarespace_site

UA = {"User-Agent": "tests/1.0"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **UA}


async def refresh(http: httpx.AsyncClient, token: str, secret: str = CLIENT_SECRET) -> httpx.Response:
    body = {"grant_type": "refresh_token", "refresh_token": token}
    return await http.post(TOKEN_PATH, json=body, auth=(CLIENT_ID, secret))


async def test_an_offline_grant_gets_tokens_the_api_and_the_identity_endpoint_accept() -> None:
    async with squarespace_site(access_ttl_s=600) as site:
        tokens = await grant(site)
        assert tokens["refresh_token"] and tokens["token_type"] == "bearer"
        assert abs(tokens["access_token_expires_at"] - (time.time() + 600)) < 60
        website = await site.http.get("/1.0/authorization/website", headers=bearer(tokens["access_token"]))
        assert website.status_code == 200 and website.json()["id"] == WEBSITE_ID
        orders = await site.http.get("/1.0/commerce/orders", headers=bearer(tokens["access_token"]))
        assert orders.status_code == 200
        # the store's configured API key still works; no User-Agent never does
        assert (await site.http.get("/1.0/commerce/orders", headers=bearer(API_KEY))).status_code == 200
        no_agent = {"Authorization": f"Bearer {tokens['access_token']}", "User-Agent": ""}
        assert (await site.http.get("/1.0/commerce/orders", headers=no_agent)).status_code == 401


async def test_a_grant_without_access_type_offline_gets_no_refresh_token() -> None:
    async with squarespace_site() as site:
        tokens = await grant(site, offline=False)
        assert "refresh_token" not in tokens and tokens["access_token"]


async def test_the_tokens_endpoint_wants_the_client_secret_in_basic_auth() -> None:
    async with squarespace_site() as site:
        tokens = await grant(site)
        wrong = await refresh(site.http, tokens["refresh_token"], secret="not-the-secret")
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        body = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID}
        unauthenticated = await site.http.post(TOKEN_PATH, json=body)
        assert unauthenticated.status_code == 401
        assert (await refresh(site.http, tokens["refresh_token"])).status_code == 200  # it was not spent


async def test_refresh_tokens_rotate_and_a_used_one_is_dead() -> None:
    async with squarespace_site() as site:
        first = await grant(site)
        second = (await refresh(site.http, first["refresh_token"])).json()
        assert second["refresh_token"] != first["refresh_token"]
        again = await refresh(site.http, first["refresh_token"])
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        assert (await site.oauth_stats())["reused_refresh"] == 1
        assert (await refresh(site.http, second["refresh_token"])).status_code == 200


async def test_access_tokens_expire_after_the_configured_seconds() -> None:
    async with squarespace_site(access_ttl_s=0.05) as site:
        tokens = await grant(site)
        await asyncio.sleep(0.1)  # longer than the token lives: expired however slow the machine
        expired = await site.http.get("/1.0/commerce/orders", headers=bearer(tokens["access_token"]))
        assert expired.status_code == 401 and "expired" in expired.json()["message"]


async def test_a_revoked_grant_refreshes_no_more() -> None:
    async with squarespace_site() as site:
        tokens = await grant(site)
        await site.http.post("/_sandbox/oauth/revoke")
        refused = await refresh(site.http, tokens["refresh_token"])
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        assert (await site.http.get("/1.0/commerce/orders", headers=bearer(tokens["access_token"]))).status_code == 401
