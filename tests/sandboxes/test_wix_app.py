"""The Wix sandbox's app, as a connector meets it (sandboxes/wix_app.py): the external install keeps our query and
appends Wix's, Create Access Token per installed instance (JSON, client credentials, 14400 s), Get App Instance,
tokens that expire on command, and a removed instance whose tokens die and whose reinstall keeps its id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from plumbing.config import StoreConfig
from sandboxes.base import make_sandbox_app
from sandboxes.wix import AUTH_PATH, SANDBOX, TOKEN_PATH
from sandboxes.wix_app import APP_ID, APP_SECRET, INSTANCE_PATH

INSTANCE, SITE = "3f1c9a7e-52b4-4d0e-8c6a-9e2d7b1f4a03", "0b6f8d2c-3c1e-4a57-9a31-5d2b8e7f4c10"
CALLBACK = "https://app.example.com/connect/wix/callback?state=st-1"


@pytest.fixture
async def wix() -> AsyncIterator[httpx.AsyncClient]:
    store = StoreConfig(
        platform="wix",
        store_id="site-a",
        merchant_email="m@example.com",
        base_url="https://www.wixapis.com",
        credentials={"api_key": "IST.k", "site_id": SITE, "instance_id": INSTANCE, "site_name": "Ada's mugs"},
    )
    app = make_sandbox_app(SANDBOX, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wix") as client:
        yield client


async def install(wix: httpx.AsyncClient, instance: str = INSTANCE, callback: str = CALLBACK) -> dict[str, list[str]]:
    query = {"appId": APP_ID, "postInstallationUrl": callback}
    page = await wix.get(AUTH_PATH, params=query)
    assert page.status_code == 200 and "Ada&#x27;s mugs" in page.text
    answer = await wix.post(AUTH_PATH, data={**query, "instance": instance, "decision": "allow"})
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK.split("?")[0]
    return parse_qs(location.query)


def credentials(instance: str = INSTANCE, secret: str = APP_SECRET) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": APP_ID, "client_secret": secret, "instance_id": instance}


async def test_the_install_keeps_our_state_and_appends_app_site_and_instance(wix: httpx.AsyncClient) -> None:
    assert await install(wix) == {"state": ["st-1"], "appId": [APP_ID], "tenantId": [SITE], "instanceId": [INSTANCE]}


async def test_the_installer_refuses_another_app_or_a_url_the_app_does_not_list(wix: httpx.AsyncClient) -> None:
    assert (await wix.get(AUTH_PATH, params={"appId": "other", "postInstallationUrl": CALLBACK})).status_code == 400
    for bad in ("javascript:alert(1)", "/relative"):
        assert (await wix.get(AUTH_PATH, params={"appId": APP_ID, "postInstallationUrl": bad})).status_code == 400
    await wix.post("/_sandbox/oauth", json={"redirect_uris": ["https://app.example.com/connect/wix/callback"]})
    elsewhere = {"appId": APP_ID, "postInstallationUrl": "https://evil.example/cb?state=x"}
    assert (await wix.get(AUTH_PATH, params=elsewhere)).status_code == 400
    await install(wix)  # the listed one, with its own query, still goes


async def test_a_token_is_made_only_for_an_installed_instance_with_the_app_s_secret(wix: httpx.AsyncClient) -> None:
    refused = await wix.post(TOKEN_PATH, json=credentials())
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")  # not installed yet
    await install(wix)
    wrong = await wix.post(TOKEN_PATH, json=credentials(secret="nope"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert (await wix.post(TOKEN_PATH, data=credentials())).status_code == 400  # JSON, as Wix documents it
    grant = await wix.post(TOKEN_PATH, json={**credentials(), "grant_type": "authorization_code"})
    assert grant.json()["error"] == "unsupported_grant_type"
    answer = (await wix.post(TOKEN_PATH, json=credentials())).json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 14400 and answer["access_token"]


async def test_get_app_instance_names_the_token_s_site_and_refuses_a_site_api_key(wix: httpx.AsyncClient) -> None:
    await install(wix)
    access = (await wix.post(TOKEN_PATH, json=credentials())).json()["access_token"]
    identity = (await wix.get(INSTANCE_PATH, headers={"Authorization": access})).json()
    assert identity["instance"]["instanceId"] == INSTANCE
    assert (identity["site"]["siteId"], identity["site"]["siteDisplayName"]) == (SITE, "Ada's mugs")
    by_key = await wix.get(INSTANCE_PATH, headers={"Authorization": "IST.k", "wix-site-id": SITE})
    assert by_key.status_code == 403
    assert (await wix.get(INSTANCE_PATH, headers={"Authorization": f"Bearer {access}"})).status_code == 401


async def test_tokens_live_as_configured_and_expire_on_command(wix: httpx.AsyncClient) -> None:
    await wix.post("/_sandbox/oauth", json={"access_ttl_s": 5})
    await install(wix)
    answer = (await wix.post(TOKEN_PATH, json=credentials())).json()
    assert answer["expires_in"] == 5
    search = {"search": {"cursorPaging": {"limit": 10}}}
    headers = {"Authorization": answer["access_token"]}
    assert (await wix.post("/ecom/v1/orders/search", json=search, headers=headers)).status_code == 200
    await wix.post("/_sandbox/oauth/expire")
    expired = await wix.post("/ecom/v1/orders/search", json=search, headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json()["message"]


async def test_a_removed_instance_loses_its_tokens_and_a_reinstall_keeps_its_id(wix: httpx.AsyncClient) -> None:
    await install(wix)
    access = (await wix.post(TOKEN_PATH, json=credentials())).json()["access_token"]
    await wix.post(f"/_sandbox/sites/{INSTANCE}/uninstall")
    assert (await wix.get(INSTANCE_PATH, headers={"Authorization": access})).status_code == 401
    assert (await wix.post(TOKEN_PATH, json=credentials())).json()["error"] == "invalid_grant"
    assert (await install(wix))["instanceId"] == [INSTANCE]  # "remains the same even if … reinstalled"
    assert (await wix.post(TOKEN_PATH, json=credentials())).status_code == 200
    assert (await wix.get("/_sandbox/oauth")).json()["removed"] == [INSTANCE]


async def test_a_second_site_is_listed_on_the_installer_and_gets_its_own_instance(wix: httpx.AsyncClient) -> None:
    added = (await wix.post("/_sandbox/sites", json={"name": "Bob's tees"})).json()
    assert added["instance_id"] != INSTANCE and not added["installed"]
    query = await install(wix, added["instance_id"])
    assert (query["instanceId"], query["tenantId"]) == ([added["instance_id"]], [added["site_id"]])
    sites = {s["instance_id"]: s["installed"] for s in (await wix.get("/_sandbox/sites")).json()["sites"]}
    assert sites == {INSTANCE: False, added["instance_id"]: True}
