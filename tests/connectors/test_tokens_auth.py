"""A kept store's requests (connectors/tokens_auth.py): the kept token on every request, a 401 renewed once and
retried once, a revoked store's requests never sent. The platform's API is an httpx transport that takes only
the access tokens its token endpoint (the fake of test_tokens) issued and has not withdrawn."""

from __future__ import annotations

import httpx
import pytest

from connectors.errors import GrantRevokedError
from plumbing.config import StoreConfig
from tests.connectors.test_tokens import STORE, World

API = "https://api.etsy.com"


class Api:
    def __init__(self, world: World) -> None:
        self.world = world
        self.sent: list[str] = []
        self.refuse_all = False  # a 401 whatever the token: a wrong API key, say

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.sent.append(token)
        if token in self.world.platform.access and not self.refuse_all:
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(401, json={"error": "invalid_token", "error_description": "access token is expired"})


def store_of(credentials: dict[str, str]) -> StoreConfig:
    return StoreConfig(
        platform="etsy", store_id=STORE, merchant_email="m@example.com", base_url=API, credentials=credentials
    )


@pytest.fixture
async def world() -> World:
    return World()


def client(world: World, api: Api, credentials: dict[str, str], **options: float) -> httpx.AsyncClient:
    keeper = world.keeper(**options)
    assert keeper.keeps(store_of(credentials))
    return httpx.AsyncClient(base_url=API, transport=httpx.MockTransport(api), auth=keeper.auth(store_of(credentials)))


async def test_a_401_renews_the_token_once_and_the_request_goes_once_more(world: World) -> None:
    connected = await world.connect()
    api = Api(world)
    world.platform.access.clear()  # Etsy withdrew the access token before its time (a password change, say)
    async with client(world, api, connected) as http:
        answer = await http.get("/v3/application/users/me")
    assert answer.status_code == 200 and len(world.platform.calls) == 1
    renewed = (await world.stored())["access_token"]
    assert api.sent == [connected["access_token"], renewed]


async def test_a_401_that_stays_after_a_renewal_is_answered_and_not_renewed_per_request(world: World) -> None:
    connected = await world.connect()
    api = Api(world)
    api.refuse_all = True
    async with client(world, api, connected) as http:
        first = await http.get("/v3/application/users/me")
        second = await http.get("/v3/application/users/me")
    assert (first.status_code, second.status_code) == (401, 401)
    assert len(world.platform.calls) == 1 and len(api.sent) == 3  # one renewal, one retry, then the 401 stands


async def test_a_401_on_a_token_another_copy_replaced_is_retried_with_its_without_a_refresh(world: World) -> None:
    connected = await world.connect(expires_in_s=200)
    api = Api(world)
    async with client(world, api, connected, margin_s=100) as behind:
        assert (await behind.get("/v3/application/users/me")).status_code == 200  # holds version 1
        await world.keeper(margin_s=300).fresh(STORE)  # another copy renews it: version 2
        world.platform.access.discard(connected["access_token"])
        answer = await behind.get("/v3/application/users/me")
    assert answer.status_code == 200 and len(world.platform.calls) == 1
    assert api.sent[-1] == (await world.stored())["access_token"]


async def test_a_revoked_store_sends_no_request(world: World) -> None:
    connected = await world.connect()
    api = Api(world)
    world.platform.access.clear()
    world.platform.revoked = True
    async with client(world, api, connected) as http:
        with pytest.raises(GrantRevokedError):
            await http.get("/v3/application/users/me")
        with pytest.raises(GrantRevokedError):
            await http.get("/v3/application/shops/1/receipts")
    assert api.sent == [connected["access_token"]] and len(world.platform.calls) == 1
