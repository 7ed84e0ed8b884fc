"""`personalize api` and `personalize keys create|list|revoke`: the merchant API's command line.

`keys create` prints the key alone on stdout (so `KEY=$(personalize keys create …)` works) and
what it is on stderr. The key is shown this once: Redis keeps only its hash.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from plumbing.config import load_config
from plumbing.logs import setup_logging
from plumbing.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


def add_commands(commands: argparse._SubParsersAction) -> None:
    api = commands.add_parser("api", help="run the merchant API: orders, commands, settings, catalogs, templates")
    api.add_argument("--port", type=int, default=None, help="HTTP port (default PERSONALIZE_API_PORT, 8700)")
    keys = commands.add_parser("keys", help="create, list or revoke merchant API keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new key, printed once")
    whose = create.add_mutually_exclusive_group(required=True)
    whose.add_argument("--store", help="<platform>:<store_id>: the key acts for this store only")
    whose.add_argument("--operator", action="store_true", help="the key acts for every store and shared templates")
    create.add_argument("--label", default="", help="a note to tell keys apart (e.g. who holds it)")
    listing = actions.add_parser("list", help="the keys of a store (ids and labels, never the keys)")
    listing_whose = listing.add_mutually_exclusive_group(required=True)
    listing_whose.add_argument("--store")
    listing_whose.add_argument("--operator", action="store_true")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")


def run(args: argparse.Namespace) -> int:
    if args.command == "api":
        from merchant_api.main import run as run_api
        from merchant_api.settings import ApiSettings

        settings = load_settings(ApiSettings)
        if args.port is not None:
            settings = settings.model_copy(update={"api_port": args.port})
        setup_logging(settings.log_level, settings.log_format)
        asyncio.run(run_api(settings))
        return 0
    return asyncio.run(_keys(args))


async def _keys(args: argparse.Namespace) -> int:
    from merchant_api.keys import ApiKeys
    from plumbing.redis_client import redis_client

    settings = load_settings(Settings)
    redis = redis_client(settings)  # the URL or the Sentinels, as the services connect
    keys = ApiKeys(redis)
    try:
        store = None if args.action == "revoke" or args.operator else await _known_store(settings, redis, args.store)
        if args.action == "create":
            info, key = await keys.create(store, args.label)
            print(key)
            print(
                f"created key {info.key_id} for {store or 'operators (every store)'}; it is shown only now: "
                "store it, as Redis keeps only its hash",
                file=sys.stderr,
            )
        elif args.action == "list":
            for info in await keys.list(store):
                print(f"{info.key_id}  {info.created_at:%Y-%m-%d %H:%M} UTC  {info.label}")
        elif not await keys.revoke(args.key_id):
            print(f"personalize keys revoke: no key {args.key_id!r}", file=sys.stderr)
            return 1
        return 0
    finally:
        await redis.aclose()


async def _known_store(settings: Settings, redis: Redis, name: str) -> str:
    """A store of the YAML, or one connected since (learned by core from the `stores` topic)."""
    from core.directory import Directory

    config = load_config(settings.required_config())
    platform, _, store_id = name.partition(":")
    if await Directory(redis, config).known(platform, store_id) is None:
        known = ", ".join(s.key for s in config.stores) or "none"
        raise SettingsError(f"no store {name!r} in {settings.config} (known: {known})")
    return f"{platform}:{store_id}"
