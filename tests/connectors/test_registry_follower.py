"""Which stores a connector copy runs: the registry's, as it is when an event names a store, never the event's word."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from connectors.budget import Quota, RateBudget
from connectors.registry import adapter_for
from connectors.stores import Sealer, new_key
from connectors.stores.memory import MemoryStoreRegistry
from connectors.stores.roster import RegistryFollower, Roster
from connectors.webhooks import StoreRoutes
from plumbing.config import StoreConfig
from plumbing.consumer import Received
from schemas import StoreConnected, StoreDisconnected, store_key

CREDENTIALS = {"consumer_key": "ck_1", "consumer_secret": "cs_1", "webhook_secret": "wh_1"}


class FakeRoster:
    """What the follower asks of the roster, recorded."""

    def __init__(self) -> None:
        self.running: dict[str, StoreConfig] = {}
        self.starts: list[str] = []
        self.expected = 0  # set by the follower while it starts the registry's stores
        self.expected_at_start: list[int] = []

    def __len__(self) -> int:
        return len(self.running)

    def runs(self, store: StoreConfig) -> bool:
        return self.running.get(store.store_id) == store

    async def start(self, store: StoreConfig) -> None:
        self.running[store.store_id] = store
        self.starts.append(store.store_id)
        self.expected_at_start.append(self.expected)

    async def stop(self, store_id: str) -> bool:
        return self.running.pop(store_id, None) is not None


def received(*events) -> list[Received]:
    return [Received(SimpleNamespace(topic="stores", partition=0, offset=i), e) for i, e in enumerate(events)]


def connected(platform: str, store_id: str) -> StoreConnected:
    key = store_key(platform, store_id)
    return StoreConnected(order_key=key, platform=platform, store_id=store_id, merchant_email="m@example.com")


def disconnected(platform: str, store_id: str) -> StoreDisconnected:
    return StoreDisconnected(order_key=store_key(platform, store_id), platform=platform, store_id=store_id, reason="r")


async def setup(yaml: dict[str, StoreConfig] | None = None):
    registry, roster = MemoryStoreRegistry(Sealer([new_key()])), FakeRoster()
    return registry, roster, RegistryFollower("woocommerce", registry, roster, yaml or {})


async def connect(registry, store_id: str, platform: str = "woocommerce", base_url: str = "https://s.example") -> None:
    await registry.connect(platform, store_id, "m@example.com", CREDENTIALS, {"base_url": base_url})


async def test_at_start_it_runs_the_connected_stores_of_its_platform_only() -> None:
    registry, roster, follower = await setup()
    await connect(registry, "a")
    await connect(registry, "b")
    await registry.disconnect("woocommerce", "b", "gone")
    await connect(registry, "e", platform="etsy")
    assert await follower.start() == 1 and set(roster.running) == {"a"}
    assert roster.running["a"].webhook_secret == "wh_1" and "webhook_secret" not in roster.running["a"].credentials


async def test_while_it_starts_the_registrys_stores_the_roster_paces_polls_by_all_of_them(redis) -> None:
    registry, roster, follower = await setup()
    for store_id in ("a", "b", "c"):
        await connect(registry, store_id)
    await follower.start()
    assert roster.expected_at_start == [3, 3, 3] and roster.expected == 0  # the first store's turn is not 1/3 long
    etsy = adapter_for("etsy")
    budget = RateBudget(redis, "etsy", Quota(per_second=9, burst=9, per_app=True, per_day=10_000))
    real = Roster(etsy, None, redis, StoreRoutes(etsy), {}, lambda store: None, budget=budget)  # type: ignore[arg-type]
    shop = StoreConfig(
        platform="etsy", store_id="1", merchant_email="m@example.com", poll_interval=timedelta(minutes=1)
    )
    assert real.poll_interval(shop) == timedelta(minutes=1)  # alone: its own interval is inside the quota
    real.expected = 1000
    assert real.poll_interval(shop) == timedelta(hours=4.8)  # 5,000 polls a day shared by 1,000 shops


async def test_an_event_starts_or_stops_the_store_as_the_registry_has_it() -> None:
    registry, roster, follower = await setup()
    await follower.start()
    await connect(registry, "new")
    await follower(received(connected("woocommerce", "new")))
    assert set(roster.running) == {"new"}
    await registry.disconnect("woocommerce", "new", "r")
    await follower(received(disconnected("woocommerce", "new")))
    assert roster.running == {}


async def test_a_replayed_connect_of_a_store_disconnected_since_leaves_it_stopped() -> None:
    registry, roster, follower = await setup()
    await connect(registry, "w")
    await registry.disconnect("woocommerce", "w", "r")
    # A new copy reads the topic from its start: the old StoreConnected comes first.
    await follower(received(connected("woocommerce", "w"), disconnected("woocommerce", "w")))
    assert roster.running == {} and roster.starts == []


async def test_a_connect_the_registry_never_saw_starts_nothing() -> None:
    _, roster, follower = await setup()
    await follower(received(connected("woocommerce", "forged")))
    assert roster.starts == []


async def test_an_unchanged_store_is_not_restarted_and_a_changed_one_is() -> None:
    registry, roster, follower = await setup()
    await connect(registry, "w")
    await follower.start()
    await follower(received(connected("woocommerce", "w")))
    assert roster.starts == ["w"]
    await connect(registry, "w", base_url="https://moved.example")
    await follower(received(connected("woocommerce", "w")))
    assert roster.starts == ["w", "w"] and roster.running["w"].base_url == "https://moved.example"


async def test_events_of_another_platform_are_not_this_connectors() -> None:
    registry, roster, follower = await setup()
    await connect(registry, "w", platform="etsy")
    await follower(received(connected("etsy", "w")))
    assert roster.starts == []


async def test_a_yaml_store_runs_from_the_yaml() -> None:
    yaml = StoreConfig.model_validate(
        {
            "platform": "woocommerce",
            "store_id": "y",
            "merchant_email": "m@example.com",
            "base_url": "https://y.example",
            "credentials": {"consumer_key": "ck_y", "consumer_secret": "cs_y"},
            "buyer_text_keys": ["engraving"],
        }
    )
    registry, roster, follower = await setup({"y": yaml})
    await registry.connect("woocommerce", "y", "m@example.com", {"consumer_key": "ck_y", "consumer_secret": "cs_y"})
    await follower.start()
    assert roster.running["y"] is yaml


async def test_a_registry_store_that_cannot_run_is_left_stopped_and_the_others_run(caplog) -> None:
    registry, roster, follower = await setup()
    await connect(registry, "bad", base_url="not a url")
    await connect(registry, "good")
    await follower.start()
    assert set(roster.running) == {"good"}
    assert "woocommerce:bad" in caplog.text and "cs_1" not in caplog.text


async def test_stores_connected_through_the_app_verify_with_the_apps_secret_of_now_not_their_copy() -> None:
    yaml = {"from-yaml": StoreConfig(platform="woocommerce", store_id="from-yaml", merchant_email="y@example.com")}
    registry, roster = MemoryStoreRegistry(Sealer([new_key()])), FakeRoster()
    follower = RegistryFollower("woocommerce", registry, roster, yaml, app_webhook_secret="whsec_rotated")
    await connect(registry, "connected")  # its credentials keep the secret of when it was connected: wh_1
    await connect(registry, "from-yaml")
    await follower.start()
    assert roster.running["connected"].webhook_secret == "whsec_rotated"
    assert roster.running["from-yaml"].webhook_secret is None  # the YAML's store is the YAML's
