"""A service's Redis through a failover, on real redis-server processes and a real Sentinel started here.

Before: a demoted primary answered READONLY to every write forever while PING (and readiness) stayed green, and
the pool never left it. Now readiness asks the role, a READONLY drops the pool, and through Sentinel the client
follows the new primary without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from devstack.embedded import LOOPBACK, EmbeddedServer
from plumbing.consumer import is_infrastructure
from plumbing.ops import Health, redis_probe
from plumbing.redis_client import follow_primary, redis_client
from plumbing.redis_errors import PrimaryDemoted
from plumbing.settings import Settings
from tests.plumbing.redis_nodes import MASTER, admin, eventually, port_of, role_of, start_node, start_sentinel

pytestmark = pytest.mark.integration  # starts servers of its own


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[EmbeddedServer, EmbeddedServer]]:
    first, second = start_node(tmp_path, "first"), start_node(tmp_path, "second")
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
async def client(nodes) -> AsyncIterator[Redis]:
    """The service's client, as `Service` builds it, at the first node's URL."""
    first, _ = nodes
    redis = redis_client(Settings(redis_url=f"redis://{first.address}/0"), connections=8, wait_s=5)
    yield redis
    await redis.aclose()


async def demote(node: EmbeddedServer, to: EmbeddedServer) -> None:
    control = admin(node)
    try:
        await control.replicaof(LOOPBACK, to.port)
    finally:
        await control.aclose()


async def promote(node: EmbeddedServer) -> None:
    control = admin(node)
    try:
        await control.replicaof("NO", "ONE")
    finally:
        await control.aclose()


async def test_a_primary_demoted_to_a_replica_is_not_ready_though_it_answers_ping(nodes, client):
    first, second = nodes
    health = Health().ready_when("redis", redis_probe(client))
    assert await health.ready() == {"redis": True}

    await demote(first, second)
    assert await client.ping()  # what readiness asked before: green on a node that refuses every write
    assert await health.ready() == {"redis": False}

    await promote(first)
    assert await health.ready() == {"redis": True}  # the same client, no restart


async def test_writes_to_a_demoted_primary_are_an_outage_not_a_bad_message(nodes, client):
    first, second = nodes
    await client.set("order:1", "pending")
    other = admin(second)
    await other.set("order:1", "pending")  # what the demoted node copies from its new primary
    await other.aclose()
    await demote(first, second)

    def transaction() -> object:
        pipe = client.pipeline(transaction=True)
        pipe.set("order:1", "done").sadd("orders:done", "1")
        return pipe.execute()

    async def watched() -> object:  # the directory's and the API's read-check-write
        async with client.pipeline(transaction=True) as pipe:
            await pipe.watch("order:1")
            await pipe.get("order:1")
            pipe.multi()
            pipe.set("order:1", "done")
            return await pipe.execute()

    writes = {
        "a command": lambda: client.set("order:1", "done"),
        # Raised as a connection error, redis-py turns this into a WatchError, which callers retry at once.
        "a WATCH transaction": watched,
        "a script (core's and the notifier's transitions)": lambda: client.eval(
            "return redis.call('SET', KEYS[1], ARGV[1])", 1, "order:1", "done"
        ),
        "a MULTI/EXEC transaction": transaction,
    }
    for what, write in writes.items():
        with pytest.raises(PrimaryDemoted) as refused:
            await write()
        assert is_infrastructure(refused.value), f"{what} refused by a replica would be dead-lettered"
        assert await client.get("order:1") == b"pending"  # the pool reconnected, to the same replica: reads work

    await promote(first)
    await client.set("order:1", "done")  # the outage is over: the same client writes again
    assert await client.get("order:1") == b"done"


async def test_a_readonly_reply_drops_every_pooled_connection(nodes, client):
    first, second = nodes
    await asyncio.gather(*(client.blpop(["nothing"], timeout=0.2) for _ in range(5)))  # five pooled connections
    watcher = admin(first)
    try:
        assert await _connections_besides(watcher) >= 5

        await demote(first, second)
        with pytest.raises(PrimaryDemoted):
            await client.set("k", "v")
        # Left in the pool, the idle four would each read from the replica until they met a write of their own.
        await eventually(lambda: _none_besides(watcher), "every pooled connection closed")
    finally:
        await watcher.aclose()


async def _connections_besides(watcher: Redis) -> int:
    """Normal clients of the watcher's node (not replication links), the watcher itself left out."""
    own = await watcher.client_id()
    return len([c for c in await watcher.client_list(_type="normal") if int(c["id"]) != own])


async def _none_besides(watcher: Redis) -> bool:
    return await _connections_besides(watcher) == 0


@pytest.fixture
async def sentinel_setup(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedServer, EmbeddedServer, EmbeddedServer]]:
    """A primary, its replica, and one Sentinel watching them (quorum 1)."""
    primary, replica = start_node(tmp_path, "primary"), start_node(tmp_path, "replica")
    await demote(replica, primary)
    sentinel = start_sentinel(tmp_path, primary)
    yield primary, replica, sentinel
    for server in (sentinel, replica, primary):
        server.stop()


async def fail_over(sentinel: EmbeddedServer) -> None:
    """SENTINEL FAILOVER, once the Sentinel knows a replica it can promote."""
    control = Redis(host=LOOPBACK, port=sentinel.port)

    async def asked() -> bool:
        try:
            return bool(await control.execute_command("SENTINEL", "FAILOVER", MASTER))
        except RedisConnectionError:
            return False  # not listening yet
        except ResponseError as error:
            assert "NOGOODSLAVE" in str(error), error  # it has not seen the replica yet; anything else is wrong
            return False

    try:
        await eventually(asked, "failover started")
    finally:
        await control.aclose()


def sentinel_settings(sentinel: EmbeddedServer) -> Settings:
    return Settings(redis_sentinels=f"{sentinel.address}", redis_sentinel_master=MASTER)


async def writes_reach(client: Redis, node: EmbeddedServer, value: str) -> bool:
    try:
        await client.set("after-failover", value)
        return await port_of(client) == node.port
    except Exception as error:
        assert is_infrastructure(error), f"a failover's error must be an outage to wait out: {error!r}"
        return False


async def test_after_a_sentinel_failover_writes_reach_the_new_primary_without_a_restart(sentinel_setup):
    primary, replica, sentinel = sentinel_setup
    client = redis_client(sentinel_settings(sentinel), connections=4, wait_s=5)
    stop = asyncio.Event()
    following = asyncio.create_task(follow_primary(client, stop))  # as `Service` runs it
    try:
        await eventually(lambda: writes_reach(client, primary, "before"), "writing to the first primary")
        await fail_over(sentinel)

        await eventually(lambda: writes_reach(client, replica, "after"), "writing to the promoted replica")
        promoted = admin(replica)
        assert await promoted.get("after-failover") == b"after"
        await promoted.aclose()
        assert await redis_probe(client)()
    finally:
        stop.set()
        await following
        await client.aclose()


async def test_the_client_leaves_an_old_primary_the_sentinels_no_longer_name_though_it_still_takes_writes(
    sentinel_setup,
):
    """After a failover the old primary accepts writes until the Sentinels reconfigure it (10 s measured), and
    loses them when it becomes a replica; the follower moves the pool as soon as the Sentinels name another."""
    primary, replica, sentinel = sentinel_setup
    client = redis_client(sentinel_settings(sentinel), connections=4, wait_s=5)
    stop = asyncio.Event()
    following = asyncio.create_task(follow_primary(client, stop, every_s=0.2))
    control = Redis(host=LOOPBACK, port=sentinel.port)
    try:
        await eventually(lambda: writes_reach(client, primary, "before"), "writing to the first primary")
        await promote(replica)  # two primaries, as between a failover and the old one's reconfiguration
        await control.execute_command("SENTINEL", "REMOVE", MASTER)
        await control.execute_command("SENTINEL", "MONITOR", MASTER, LOOPBACK, replica.port, 1)

        await eventually(lambda: writes_reach(client, replica, "after"), "writing to the primary the Sentinels name")
        assert await role_of(primary) == "master"  # still taking writes: only the follower moved the client
    finally:
        stop.set()
        await following
        await control.aclose()
        await client.aclose()


async def test_a_primary_the_sentinels_demote_sends_the_client_to_the_new_one_by_its_readonly(sentinel_setup):
    """Without the follower: the old primary keeps writing until the Sentinels demote it, then READONLY moves it."""
    primary, replica, sentinel = sentinel_setup
    client = redis_client(sentinel_settings(sentinel))  # redis-py's own pool size, as core and the notifier use
    try:
        await eventually(lambda: writes_reach(client, primary, "before"), "writing to the first primary")
        await fail_over(sentinel)
        await eventually(lambda: _is_replica(primary), "the old primary demoted")

        await eventually(lambda: writes_reach(client, replica, "after"), "writing to the promoted replica")
    finally:
        await client.aclose()


async def _is_replica(node: EmbeddedServer) -> bool:
    return await role_of(node) == "slave"
