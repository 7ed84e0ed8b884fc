"""Etsy's refresh (connectors/etsy/tokens.py) against the Etsy sandbox's token endpoint, and against answers the
sandbox does not give (a 500, a 200 missing fields) at the httpx transport."""

from __future__ import annotations

import httpx
import pytest

from connectors.errors import GrantRevokedError, PlatformError
from connectors.etsy import connect as etsy_connect
from connectors.etsy.tokens import ETSY_LIFETIME_S, exchange_code, refresh
from sandboxes.base import make_sandbox_app
from sandboxes.etsy import EtsySandbox
from tests.connectors.etsy_oauth import app_at, consent, query_of, sandbox_shop

SANDBOX = "http://etsy.sandbox"
APP = app_at(SANDBOX)


@pytest.fixture
async def etsy() -> httpx.AsyncClient:
    sandbox = make_sandbox_app(EtsySandbox(), sandbox_shop("4242"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url=SANDBOX) as client:
        await client.post("/_sandbox/oauth", json={"redirect_uris": [APP.redirect_uri], "access_ttl_s": 3600})
        client.stats = lambda: sandbox.state.sandbox.oauth.stats  # type: ignore[attr-defined]
        yield client


async def granted(etsy: httpx.AsyncClient) -> dict[str, str]:
    verifier = "v" * 64
    url = f"{APP.auth_url}?" + str(
        httpx.QueryParams(
            response_type="code",
            client_id=APP.client_id,
            redirect_uri=APP.redirect_uri,
            scope="transactions_r shops_r",
            state="s",
            code_challenge=etsy_connect.challenge_of(verifier),
            code_challenge_method="S256",
        )
    )
    code = query_of(await consent(etsy, url))["code"]
    tokens = await exchange_code(etsy, APP, code, verifier, clock=lambda: 1_800_000_000.0)
    assert tokens["expires_at"] == str(1_800_000_000 + 3600)
    return {"keystring": APP.client_id, "shared_secret": APP.secret, "shop_id": "4242", **tokens}


async def test_a_refresh_rotates_the_refresh_token_and_keeps_the_rest(etsy: httpx.AsyncClient) -> None:
    first = await granted(etsy)
    second = await refresh(etsy, APP, first, clock=lambda: 1_800_001_000.0)
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert second["expires_at"] == str(1_800_001_000 + 3600)
    assert {k: second[k] for k in ("keystring", "shared_secret", "shop_id")} == {
        k: first[k] for k in ("keystring", "shared_secret", "shop_id")
    }
    headers = {"x-api-key": f"{APP.client_id}:{APP.secret}", "authorization": f"Bearer {second['access_token']}"}
    assert (await etsy.get("/v3/application/shops/4242/receipts", headers=headers)).status_code == 200


async def test_a_spent_or_revoked_refresh_token_is_a_revoked_grant(etsy: httpx.AsyncClient) -> None:
    first = await granted(etsy)
    await refresh(etsy, APP, first)
    with pytest.raises(GrantRevokedError, match="refresh_token is revoked"):
        await refresh(etsy, APP, first)  # spent by the rotation
    latest = await refresh(etsy, APP, await refresh(etsy, APP, await granted(etsy)))
    await etsy.post("/_sandbox/oauth/revoke")
    with pytest.raises(GrantRevokedError):
        await refresh(etsy, APP, latest)


def answering(*responses: httpx.Response) -> httpx.AsyncClient:
    queue = list(responses)
    return httpx.AsyncClient(transport=httpx.MockTransport(lambda request: queue.pop(0)))


async def test_a_token_endpoint_500_is_not_a_revoked_grant() -> None:
    async with answering(httpx.Response(500, json={"error": "Server Error"})) as http:
        with pytest.raises(PlatformError) as raised:
            await refresh(http, APP, {"refresh_token": "rt"})
    assert not isinstance(raised.value, GrantRevokedError)


async def test_another_oauth_error_is_not_a_revoked_grant() -> None:
    async with answering(httpx.Response(401, json={"error": "invalid_client", "error_description": "x"})) as http:
        with pytest.raises(PlatformError) as raised:
            await refresh(http, APP, {"refresh_token": "rt"})
    assert not isinstance(raised.value, GrantRevokedError)


async def test_a_200_missing_its_lifetime_or_new_refresh_token_is_still_kept() -> None:
    """The old refresh token is spent once Etsy answered 200: the answer is never thrown away for a missing field."""
    async with answering(httpx.Response(200, json={"access_token": "1.new", "expires_in": "soon"})) as http:
        kept = await refresh(http, APP, {"refresh_token": "rt", "shop_id": "1"}, clock=lambda: 100.0)
    assert kept == {
        "refresh_token": "rt",
        "shop_id": "1",
        "access_token": "1.new",
        "expires_at": str(100 + ETSY_LIFETIME_S),
    }


async def test_a_200_without_an_access_token_is_refused() -> None:
    async with answering(httpx.Response(200, json={"token_type": "Bearer"})) as http:
        with pytest.raises(PlatformError, match="without an access_token"):
            await refresh(http, APP, {"refresh_token": "rt"})
