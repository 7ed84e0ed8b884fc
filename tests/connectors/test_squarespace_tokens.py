"""`connectors.squarespace.tokens.refresh` against the sandbox: the store's credentials renewed, the refresh
token rotated (the old one never presented again), and a grant that is gone raising GrantRevokedError."""

from __future__ import annotations

import httpx
import pytest

from connectors.client import RetryableError
from connectors.errors import GrantRevokedError, PlatformError
from connectors.squarespace.oauth import tokens_of
from connectors.squarespace.tokens import refresh
from tests.connectors.squarespace_stack import WEBSITE_ID, grant, platform_app, squarespace_site

UA = {"User-Agent": "tests/1.0"}


async def connected_credentials(site) -> dict[str, str]:
    return {**tokens_of(await grant(site)), "website_id": WEBSITE_ID}


async def test_refresh_rotates_the_refresh_token_and_keeps_the_rest() -> None:
    async with squarespace_site(access_ttl_s=900) as site:
        before = await connected_credentials(site)
        after = await refresh(site.http, site.app, before)
        assert after["website_id"] == WEBSITE_ID
        assert after["access_token"] != before["access_token"] and after["refresh_token"] != before["refresh_token"]
        assert int(after["expires_at"]) >= int(before["expires_at"])
        orders = await site.http.get(
            "/1.0/commerce/orders", headers={"Authorization": f"Bearer {after['access_token']}", **UA}
        )
        assert orders.status_code == 200
        again = await refresh(site.http, site.app, after)  # the rotated one works, once more
        assert again["refresh_token"] not in (before["refresh_token"], after["refresh_token"])
        assert (await site.oauth_stats())["reused_refresh"] == 0


async def test_a_used_refresh_token_is_invalid_grant_and_raises_grant_revoked() -> None:
    async with squarespace_site() as site:
        before = await connected_credentials(site)
        await refresh(site.http, site.app, before)
        with pytest.raises(GrantRevokedError):
            await refresh(site.http, site.app, before)


async def test_a_revoked_grant_raises_grant_revoked() -> None:
    async with squarespace_site() as site:
        credentials = await connected_credentials(site)
        await site.http.post("/_sandbox/oauth/revoke")
        with pytest.raises(GrantRevokedError):
            await refresh(site.http, site.app, credentials)


async def test_a_store_without_a_refresh_token_is_grant_revoked() -> None:
    async with squarespace_site() as site:
        with pytest.raises(GrantRevokedError):
            await refresh(site.http, site.app, {"access_token": "a", "expires_at": "1"})


async def test_our_app_refused_is_not_a_revoked_grant() -> None:
    # A wrong client secret is our fault, not the merchant's: disconnecting every store for it would be wrong.
    async with squarespace_site() as site:
        credentials = await connected_credentials(site)
        with pytest.raises(PlatformError) as refused:
            await refresh(site.http, platform_app(secret="rotated-away"), credentials)
        assert refused.value.status == 401 and not isinstance(refused.value, GrantRevokedError)
        assert await refresh(site.http, site.app, credentials)  # the grant is intact


@pytest.mark.parametrize(
    "outage",
    [lambda request: httpx.Response(503, json={"error": "temporarily_unavailable"}), None],
    ids=["503", "unreachable"],
)
async def test_an_outage_is_retryable(outage) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(outage or unreachable)) as http:
        with pytest.raises(RetryableError):
            await refresh(http, platform_app(), {"access_token": "a", "refresh_token": "r", "expires_at": "1"})
