"""`personalize stores list|connect|disconnect|reseal`: the store registry from a terminal.

They read `PERSONALIZE_DATABASE_URL` and `PERSONALIZE_CREDENTIALS_KEY`; `connect` and `disconnect` also
publish on the `stores` topic (`PERSONALIZE_KAFKA_BOOTSTRAP`), which is how the running connectors and
core learn of the change. Credentials are read as one JSON object from stdin, never from the command line
(a shell's history and `ps` would show them), and no output or error ever shows one. What stops a command
is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from plumbing.limits import CREDENTIALS_MAX, SECRET_MAX
from plumbing.logs import redacted
from plumbing.settings import SettingsError, load_settings
from schemas import PLATFORMS

if TYPE_CHECKING:
    from connectors.settings import RegistrySettings
    from connectors.stores import ConnectedStore
    from connectors.stores.lifecycle import Publish
    from schemas import Event

STDIN_MAX_BYTES = 64 * 1024  # CREDENTIALS_MAX credentials of a few hundred bytes each, a PEM key or two among them


class StoreCommandError(ValueError):
    """The command's input is refused; the message says why (never with a credential in it)."""


def add_commands(commands: argparse._SubParsersAction) -> None:
    stores = commands.add_parser("stores", help="the connected stores: list, connect, disconnect, reseal")
    actions = stores.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every store in the registry (never its credentials)")
    listing.add_argument("--platform", choices=PLATFORMS, default=None)
    connect = actions.add_parser("connect", help="connect a store; its credentials as a JSON object on stdin")
    connect.add_argument("platform", choices=PLATFORMS)
    connect.add_argument("store_id")
    connect.add_argument("--merchant-email", required=True, help="where the store's mail goes")
    connect.add_argument("--base-url", required=True, help="the store's or the platform API's address")
    connect.add_argument("--poll-interval", default=None, help="how often its orders are re-read (default 60s)")
    connect.add_argument("--start-from", default=None, help="the first poll reads from here (RFC 3339)")
    disconnect = actions.add_parser("disconnect", help="disconnect a store: its credentials are deleted")
    disconnect.add_argument("store", help="<platform>:<store_id>")
    disconnect.add_argument("--reason", default="disconnected by the operator")
    actions.add_parser("reseal", help="seal every store's credentials with the first key (after a key rotation)")


def run(args: argparse.Namespace, stdin: IO[str] | None = None) -> int:
    from aiokafka.errors import KafkaError
    from psycopg import Error as DatabaseError
    from psycopg_pool import PoolTimeout
    from pydantic import ValidationError

    from connectors.settings import RegistrySettings
    from connectors.stores import CredentialsKeyError, SealingError
    from connectors.stores.details import StoreDetailsError

    refused = (StoreCommandError, StoreDetailsError, SettingsError, CredentialsKeyError, SealingError)
    try:
        settings = load_settings(RegistrySettings)
        return asyncio.run(_run(args, settings, stdin or sys.stdin))
    except refused as error:
        print(f"personalize stores {args.action}: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:  # the store's event refused (platform, address): names fields, no values
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_input=False))
        print(f"personalize stores {args.action}: {fields}", file=sys.stderr)
        return 2
    except (KafkaError, DatabaseError, PoolTimeout, OSError) as error:
        # A library's message may quote a URL: the settings' secrets are masked in it all the same.
        print(f"personalize stores {args.action}: {redacted(f'{type(error).__name__}: {error}')}", file=sys.stderr)
        if args.action in ("connect", "disconnect"):
            print("the registry may be written already: run the command again to announce it", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace, settings: RegistrySettings, stdin: IO[str]) -> int:
    from connectors.main import open_registry
    from connectors.stores.lifecycle import StoreLifecycle

    async with open_registry(settings, wait_s=10) as registry:
        if args.action == "list":
            print_stores(await registry.stores(args.platform, connected_only=False))
            return 0
        if args.action == "reseal":
            print(f"resealed the credentials of {await registry.reseal()} store(s) with the first key")
            return 0
        if args.action == "connect":
            credentials, details = read_credentials(stdin), _details(args)
            _check_runnable(args, credentials, details)
            async with _publisher(settings) as publish:
                store = await StoreLifecycle(registry, publish).connect(
                    args.platform, args.store_id, args.merchant_email, credentials, details
                )
            print(f"connected {store.key} (credentials version {store.credentials_version})")
            return 0
        platform, _, store_id = args.store.partition(":")
        async with _publisher(settings) as publish:
            disconnected = await StoreLifecycle(registry, publish).disconnect(platform, store_id, args.reason)
        if disconnected is None:
            raise StoreCommandError(f"no store {args.store} in the registry")
        print(f"disconnected {disconnected.key}: {disconnected.disconnect_reason}; its credentials are deleted")
        return 0


def read_credentials(stdin: IO[str]) -> dict[str, str]:
    """One JSON object of strings; refused past the limits, naming keys and sizes, never values."""
    text = stdin.read(STDIN_MAX_BYTES + 1)
    if len(text.encode()) > STDIN_MAX_BYTES:
        raise StoreCommandError(f"the credentials on stdin are over {STDIN_MAX_BYTES} bytes")
    try:
        credentials = json.loads(text)
    except ValueError:
        raise StoreCommandError("stdin must hold the credentials as one JSON object") from None
    if not isinstance(credentials, dict) or not credentials:
        raise StoreCommandError('stdin must hold the credentials as a JSON object, e.g. {"consumer_key": "ck_…"}')
    if len(credentials) > CREDENTIALS_MAX:
        raise StoreCommandError(f"at most {CREDENTIALS_MAX} credentials")
    for name, value in credentials.items():
        if not isinstance(value, str) or not value:
            raise StoreCommandError(f"credential {name[:64]!r} must be a non-empty string")
        if len(value) > SECRET_MAX:
            raise StoreCommandError(f"credential {name[:64]!r} is over {SECRET_MAX} characters")
    return credentials


def _details(args: argparse.Namespace) -> dict[str, str]:
    given = {"base_url": args.base_url, "poll_interval": args.poll_interval, "start_from": args.start_from}
    return {name: value for name, value in given.items() if value is not None}


def _check_runnable(args: argparse.Namespace, credentials: dict[str, str], details: dict[str, str]) -> None:
    """Refused before anything is written: a store its connector could not run."""
    from connectors.stores import ConnectedStore
    from connectors.stores.details import config_of

    now = datetime.now(UTC)
    probe = ConnectedStore(args.platform, args.store_id, args.merchant_email, "connected", 1, now, now, details=details)
    config_of(probe, credentials)


@asynccontextmanager
async def _publisher(settings: RegistrySettings) -> AsyncIterator[Publish]:
    """Publishes on the `stores` topic (created if missing) for the length of one command."""
    from plumbing.kafka import ensure_topics, make_producer, publish
    from schemas import STORES

    await ensure_topics(settings, [STORES])
    producer = make_producer(settings)
    await producer.start()

    async def send(events: Sequence[Event]) -> None:
        await publish(producer, events)

    try:
        yield send
    finally:
        await producer.stop()


def print_stores(stores: Sequence[ConnectedStore]) -> None:
    if not stores:
        print("no stores in the registry")
        return
    rows = [("STORE", "EMAIL", "STATUS", "CONNECTED AT", "DISCONNECTED AT", "REASON")]
    rows += [
        (
            s.key,
            s.merchant_email,
            s.status,
            f"{s.connected_at:%Y-%m-%d %H:%M:%S}",
            f"{s.disconnected_at:%Y-%m-%d %H:%M:%S}" if s.disconnected_at else "-",
            s.disconnect_reason or "-",
        )
        for s in stores
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]))
