"""`personalize publish-product` and `personalize test-order`: the seed's steps 1 and 3 from a terminal.

Both read the YAML config (`PERSONALIZE_CONFIG`) and core's directory in Redis (`PERSONALIZE_REDIS_URL`):
the store's current settings and catalog. Whatever stops them (unknown store or template, a platform's
refusal) is one line on stderr and exit code 2. The commands' own imports wait until one runs, so the
other subcommands do not pay for them at start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from plumbing.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from connectors.publishing import ProductDraft
    from core.directory import Directory
    from plumbing.config import StoreConfig


def add_commands(commands: argparse._SubParsersAction) -> None:
    publish = commands.add_parser("publish-product", help="create a personalizable product on a store, list it")
    publish.add_argument("--store", required=True, help="<platform>:<store_id> as in the config")
    publish.add_argument("--template", required=True, help="the personalization template")
    publish.add_argument("--title", required=True)
    publish.add_argument("--price", required=True, help="a decimal amount, e.g. 24.50")
    publish.add_argument("--currency", default=None, help="ISO 4217 (Squarespace needs it)")
    publish.add_argument("--description", default="", help="shown before the personalization notice")
    publish.add_argument("--draft", action="store_true", help="create it hidden from buyers")
    publish.add_argument(
        "--set",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a platform field, e.g. taxonomy_id=1633 on Etsy (docs/publishing.md)",
    )
    test_order = commands.add_parser("test-order", help="place a paid test order (sandbox), or say how to")
    test_order.add_argument("--store", required=True, help="<platform>:<store_id> as in the config")
    test_order.add_argument("--product", default=None, help="a catalog product id (default: the first)")


def run(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from connectors.publishing import PublishError
    from core.directory import DirectoryError
    from personalize.testorder import TestOrderError

    try:
        return asyncio.run(_publish(args) if args.command == "publish-product" else _test_order(args))
    except (DirectoryError, PublishError, TestOrderError, SettingsError) as error:
        print(f"personalize {args.command}: {error}", file=sys.stderr)
        return 2
    except RedisError as error:  # not the merchant's mistake: the same command works once Redis is back
        print(f"personalize {args.command}: Redis at PERSONALIZE_REDIS_URL: {error}", file=sys.stderr)
        return 1


@asynccontextmanager
async def _directory(store_arg: str) -> AsyncIterator[tuple[StoreConfig, Directory]]:
    from core.directory import Directory
    from plumbing.config import load_config
    from plumbing.redis_client import redis_client

    settings = load_settings(Settings)
    config = load_config(settings.required_config())
    platform, _, store_id = store_arg.partition(":")
    store = config.store(platform, store_id)
    if store is None:
        known = ", ".join(s.key for s in config.stores) or "none"
        raise SettingsError(f"no store {store_arg!r} in {settings.config} (known: {known})")
    redis = redis_client(settings)  # the URL or the Sentinels, as the services connect
    try:
        directory = Directory(redis, config)
        await directory.seed()  # as core does at start: the YAML fills what Redis does not have yet
        yield store, directory
    finally:
        await redis.aclose()


def _draft(args: argparse.Namespace) -> ProductDraft:
    from pydantic import ValidationError

    from connectors.publishing import ProductDraft

    options = {}
    for option in args.options:
        key, equals, value = option.partition("=")
        if not (key and equals):
            raise SettingsError(f"--set {option!r}: give KEY=VALUE")
        options[key] = value
    try:
        return ProductDraft(
            template=args.template,
            title=args.title,
            price=args.price,
            currency=args.currency,
            draft=args.draft,
            description=args.description,
            options=options,
        )
    except ValidationError as error:
        raise SettingsError("; ".join(f"--{e['loc'][0]}: {e['msg']}" for e in error.errors())) from None


async def _publish(args: argparse.Namespace) -> int:
    from connectors.publishing import publish_product

    draft = _draft(args)
    async with _directory(args.store) as (store, directory):
        published = await publish_product(store, directory, draft)
    state = "draft, hidden from buyers" if published.draft else "visible to buyers"
    print(f"published {store.platform} product {published.product_id} on {store.key} ({state})")
    print(f"catalog entry: {json.dumps(published.catalog_entry.model_dump(exclude_none=True))}")
    print(f"notice: {published.notice}")
    for note in published.notes:
        print(f"note: {note}")
    return 0


async def _test_order(args: argparse.Namespace) -> int:
    import httpx

    from personalize.testorder import CAN_MARK_TEST, is_sandbox, place_test_order

    async with _directory(args.store) as (store, directory):
        async with httpx.AsyncClient(timeout=10) as http:
            if not await is_sandbox(store, http):
                _print_steps(store, args.product)
                return 0
            placed = await place_test_order(store, directory, args.product, http)
        settings = (await directory.store(store.platform, store.store_id)).settings
    print(
        f"placed test order {placed.order_id} on {store.key} (sandbox), paid, with product "
        f"{placed.product.product_id or placed.product.sku} (template {placed.product.template})"
    )
    if placed.is_test:
        print(f"marked test: yes ({CAN_MARK_TEST[store.platform]}); it will stop at pending_approval")
    else:
        print(
            f"marked test: no ({store.platform} has no test orders); it is handled as a real order, "
            f"approval {settings.approval}"
        )
    print("what happens next:")
    stops = placed.is_test or settings.approval == "manual"
    for step in _next_steps(store, placed.order_key, settings.link_recipient, stops):
        print(f"  - {step}")
    return 0


def _next_steps(store: StoreConfig, key: str, recipient: str, stops: bool) -> list[str]:
    who = "the merchant" if recipient == "merchant" or store.platform == "etsy" else "the buyer"
    last = (
        "the order then waits at pending_approval: approve it to see FulfillmentRequested"
        if stops
        else "the store's approval is automatic and the order is not a test: it goes on to fulfillment"
    )
    return [
        f"the {store.platform} connector reads it (webhook at once, else its next poll); core holds {key} "
        f"as pending_personalization",
        f"after PERSONALIZE_LINK_DELAY (15m; 20s under `personalize dev`) the notifier emails the link "
        f"to {who} (this order's buyer address is the merchant's)",
        "open the link and complete the personalization in the editor",
        last,
    ]


def _print_steps(store: StoreConfig, product: str | None) -> None:
    from personalize.testorder import STEPS

    print(
        f"{store.key} is a real {store.platform} store (its base_url is not a sandbox): place the test "
        f"order there{f' with product {product}' if product else ''}:"
    )
    for number, step in enumerate(STEPS[store.platform], start=1):
        print(f"  {number}. {step}")
    print("then the order flows as in the sandbox: pending_personalization, the link's email, the editor.")
