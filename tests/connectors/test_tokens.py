"""The token keeper (connectors/tokens.py) on its in-memory twins: the registry, the refresh locks, a clock, and a
platform whose token endpoint is a small fake that rotates refresh tokens and spends the old one at once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping, Sequence

import httpx
import pytest

from connectors.connect.apps import PlatformApp
from connectors.errors import GrantRevokedError, PlatformError
from connectors.stores import Sealer, new_key
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.memory import MemoryStoreRegistry
from connectors.tokens import TokenKeeper, TokenRefreshFailed, keeper_for
from connectors.tokens_locks import MemoryRefreshLocks
from schemas import Event, StoreDisconnected
from tests.connectors.etsy_oauth import app_at

STORE = "shop-1"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    """Rotates: each refresh token works once; `revoked` answers invalid_grant, `failing` a 500, `gate` holds it."""

    def __init__(self, clock: Clock, lifetime_s: float = 3600) -> None:
        self.clock, self.lifetime_s = clock, lifetime_s
        self.live: set[str] = set()
        self.access: set[str] = set()  # access tokens the platform's API takes
        self.calls: list[str] = []
        self.revoked = False
        self.failing = 0
        self.gate: asyncio.Event | None = None

    def grant(self) -> dict[str, str]:
        refresh, access = "rt-" + secrets.token_hex(8), "at-" + secrets.token_hex(8)
        self.live.add(refresh)
        self.access.add(access)
        expires = str(int(self.clock() + self.lifetime_s))
        return {"access_token": access, "refresh_token": refresh, "expires_at": expires}

    async def refresh(self, http: httpx.AsyncClient, app: PlatformApp, credentials: Mapping[str, str]) -> dict:
        self.calls.append(credentials["refresh_token"])
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            self.failing -= 1
            raise PlatformError("token endpoint: 500", 500)
        if self.revoked or credentials["refresh_token"] not in self.live:
            raise GrantRevokedError("refresh_token is revoked")
        self.live.discard(credentials["refresh_token"])
        return {**credentials, **self.grant()}


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.platform = TokenEndpoint(self.clock)
        self.registry = MemoryStoreRegistry(Sealer([new_key()]))
        self.locks = MemoryRefreshLocks()
        self.published: list[Event] = []
        self.lifecycle = StoreLifecycle(self.registry, self._publish)
        self.http = httpx.AsyncClient()

    async def _publish(self, events: Sequence[Event]) -> None:
        self.published.extend(events)

    async def connect(self, expires_in_s: float = 3600) -> dict[str, str]:
        granted = self.platform.grant()
        granted["expires_at"] = str(int(self.clock() + expires_in_s))
        credentials = {"keystring": "ks", "shared_secret": "ss", "shop_id": "1", **granted}
        await self.registry.connect("etsy", STORE, "m@example.com", credentials, {"base_url": "https://api.etsy.com"})
        return credentials

    def keeper(self, **options: float) -> TokenKeeper:
        return TokenKeeper(
            app_at("https://api.etsy.com"),
            self.registry,
            self.lifecycle,
            self.locks,
            self.http,
            self.platform.refresh,
            clock=self.clock,
            **{"margin_s": 300.0, "save_backoff_s": 0.0, "revoke_recheck_s": 0.0, **options},
        )

    async def stored(self) -> dict[str, str]:
        return (await self.registry.credentials("etsy", STORE)).values


@pytest.fixture
async def world() -> World:
    return World()


async def test_a_token_far_from_its_expiry_is_used_as_it_is(world: World) -> None:
    connected = await world.connect()
    assert (await world.keeper().fresh(STORE))["access_token"] == connected["access_token"]
    assert world.platform.calls == []


async def test_a_token_within_the_margin_is_renewed_once_and_saved_before_it_is_used(world: World) -> None:
    connected = await world.connect(expires_in_s=200)  # inside the 300 s margin
    keeper = world.keeper()
    used = await keeper.fresh(STORE)
    assert world.platform.calls == [connected["refresh_token"]]
    assert used["access_token"] != connected["access_token"] and used == await world.stored()
    assert (await world.registry.get("etsy", STORE)).credentials_version == 2
    assert (await keeper.fresh(STORE)) == used and len(world.platform.calls) == 1


async def test_many_requests_of_one_copy_renew_a_due_token_once(world: World) -> None:
    await world.connect(expires_in_s=10)
    keeper = world.keeper()
    answers = await asyncio.gather(*(keeper.fresh(STORE) for _ in range(20)))
    assert len(world.platform.calls) == 1 and len({a["access_token"] for a in answers}) == 1


async def test_two_copies_renew_a_due_token_once_and_the_loser_uses_the_winners(world: World) -> None:
    await world.connect(expires_in_s=10)
    first, second = world.keeper(), world.keeper()
    world.platform.gate = asyncio.Event()
    racing = [asyncio.create_task(k.fresh(STORE)) for k in (first, second, first, second)]
    await asyncio.sleep(0.05)
    world.platform.gate.set()
    answers = await asyncio.gather(*racing)
    assert len(world.platform.calls) == 1, "the old refresh token was sent twice"
    assert {a["access_token"] for a in answers} == {(await world.stored())["access_token"]}


async def test_a_refresh_that_lost_its_lease_cannot_write_over_a_newer_grant(world: World) -> None:
    """A copy refreshing while the merchant reconnected the store: the registry's compare-and-set keeps the
    reconnect's grant, and the late copy uses it."""
    await world.connect(expires_in_s=10)
    world.platform.gate = asyncio.Event()
    late = asyncio.create_task(world.keeper().fresh(STORE))
    await asyncio.sleep(0.05)
    reconnected = await world.connect()
    world.platform.gate.set()
    assert (await late)["access_token"] == reconnected["access_token"]
    assert (await world.stored())["access_token"] == reconnected["access_token"]


async def test_a_revoked_grant_disconnects_the_store_and_no_request_reaches_the_platform_after(world: World) -> None:
    await world.connect(expires_in_s=10)
    world.platform.revoked = True
    keeper = world.keeper()
    with pytest.raises(GrantRevokedError):
        await keeper.fresh(STORE)
    [event] = world.published
    assert isinstance(event, StoreDisconnected) and "Connect the store again" in event.reason
    assert (await world.registry.get("etsy", STORE)).status == "disconnected"
    assert world.registry.sealed == {}  # the credentials are deleted
    for _ in range(3):
        with pytest.raises(GrantRevokedError):
            await keeper.fresh(STORE)
    assert len(world.platform.calls) == 1 and len(world.published) == 1


class LostLeases(MemoryRefreshLocks):
    """Every copy gets the lock: what two copies see when one's lease ran out in the middle of its refresh."""

    async def try_acquire(self, key: str, ttl_s: float) -> str | None:
        return "anyone"


async def test_an_invalid_grant_after_another_copy_rotated_the_token_is_not_a_revoke(world: World) -> None:
    await world.connect(expires_in_s=10)
    world.locks = LostLeases()
    first, second = world.keeper(), world.keeper()
    world.platform.gate = asyncio.Event()
    racing = [asyncio.create_task(k.fresh(STORE)) for k in (first, second)]
    await asyncio.sleep(0.05)
    world.platform.gate.set()
    answers = await asyncio.gather(*racing)
    assert len(world.platform.calls) == 2  # both sent the same refresh token; the second was refused
    assert {a["access_token"] for a in answers} == {(await world.stored())["access_token"]}
    assert world.published == [] and (await world.registry.get("etsy", STORE)).status == "connected"


async def test_a_passing_refresh_failure_lets_a_working_token_go_and_an_expired_one_not(world: World) -> None:
    connected = await world.connect(expires_in_s=100)
    keeper = world.keeper()
    world.platform.failing = 1
    assert (await keeper.fresh(STORE))["access_token"] == connected["access_token"]
    world.clock.now += 101
    world.platform.failing = 1
    with pytest.raises(TokenRefreshFailed):
        await keeper.fresh(STORE)
    renewed = await keeper.fresh(STORE)  # the endpoint is back: the same refresh token works
    assert renewed["access_token"] != connected["access_token"] and world.published == []


class FlakyRegistry(MemoryStoreRegistry):
    def __init__(self, sealer: Sealer) -> None:
        super().__init__(sealer)
        self.failures = 0

    async def replace_credentials(self, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise ConnectionError("PostgreSQL is away")
        return await super().replace_credentials(*args, **kwargs)


async def test_a_rotated_token_whose_write_failed_is_written_before_any_other_refresh(world: World) -> None:
    world.registry = FlakyRegistry(Sealer([new_key()]))
    world.lifecycle = StoreLifecycle(world.registry, world._publish)
    await world.connect(expires_in_s=10)
    keeper = world.keeper()
    world.registry.failures = 10  # every attempt of this refresh's write fails
    renewed = await keeper.fresh(STORE)
    assert (await world.registry.get("etsy", STORE)).credentials_version == 1
    world.registry.failures = 0
    assert await keeper.fresh(STORE) == renewed  # written now, and not refreshed again with the spent token
    assert await world.stored() == renewed and len(world.platform.calls) == 1


async def test_a_store_forgotten_on_restart_reads_the_registry_afresh(world: World) -> None:
    await world.connect(expires_in_s=10)
    world.platform.revoked = True
    keeper = world.keeper()
    with pytest.raises(GrantRevokedError):
        await keeper.fresh(STORE)
    world.platform.revoked = False
    reconnected = await world.connect()  # the merchant connected it again
    keeper.forget(STORE)
    assert (await keeper.fresh(STORE))["access_token"] == reconnected["access_token"]


def test_the_keeper_is_found_for_platforms_whose_tokens_expire_only(world: World) -> None:
    etsy = keeper_for(app_at("https://api.etsy.com"), world.registry, world.lifecycle, world.locks, world.http)
    assert etsy is not None and etsy.platform == "etsy"
    woo = PlatformApp("woocommerce", "personalize", app_at("x").client_secret, "", "", "", "https://c.example")
    assert keeper_for(woo, world.registry, world.lifecycle, world.locks, world.http) is None


async def test_tokens_that_live_shorter_than_the_margin_are_renewed_at_half_their_life_not_per_request(
    world: World,
) -> None:
    """A sandbox's tokens live seconds while the margin is five minutes: renewing every token that is "due" would
    refresh on every request."""
    world.platform.lifetime_s = 60
    await world.connect(expires_in_s=60)
    keeper = world.keeper()
    for _ in range(5):
        await keeper.fresh(STORE)
    assert len(world.platform.calls) == 1  # the first sight: due by the margin; the renewed one lives 60 s
    world.clock.now += 29
    await keeper.fresh(STORE)
    assert len(world.platform.calls) == 1
    world.clock.now += 2  # past half its life
    await keeper.fresh(STORE)
    assert len(world.platform.calls) == 2
