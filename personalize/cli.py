"""The `personalize` command: one subcommand per deployable, the merchant's and operator's commands, and
the dev tools (`dev`, `soak`, `docs`).

The only package that imports services. The dev tools live in `devstack/` and `soak/`, outside the wheel:
they run from a checkout (`make demo`, `make soak`, `make docs`, or `python -m personalize <command>` in
the project folder, which puts the checkout on the import path).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from merchant_api.commands import add_commands as add_api_commands
from merchant_api.commands import run as run_api_command
from personalize.merchant_commands import add_commands as add_merchant_commands
from personalize.merchant_commands import run as run_merchant_command
from personalize.store_commands import add_commands as add_store_commands
from personalize.store_commands import run as run_store_command
from plumbing.config import ConfigError
from plumbing.lifecycle import calm_collector
from plumbing.logs import setup_logging
from plumbing.settings import Settings, SettingsError, load_settings
from schemas import PLATFORMS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="personalize", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("core", help="run core: order state and decisions")
    commands.add_parser("notifier", help="run the notifier: links, merchant emails, automation webhooks")
    editor = commands.add_parser("editor", help="run the editor: the customer's personalization pages")
    editor.add_argument("--port", type=int, default=None, help="HTTP port (default PERSONALIZE_EDITOR_PORT, 8600)")
    connector = commands.add_parser("connector", help="run one platform's connector: webhooks and polls")
    connector.add_argument("platform", choices=PLATFORMS)
    connector.add_argument("--port", type=int, default=None, help="webhook port (default PERSONALIZE_CONNECTOR_PORT)")
    sandbox = commands.add_parser("sandbox", help="run a fake store of one platform (dev and tests)")
    sandbox.add_argument("platform", choices=PLATFORMS)
    sandbox.add_argument("--port", type=int, default=8500)
    sandbox.add_argument("--store", default=None, help="store id in the config (default: the platform's first)")
    sandbox.add_argument("--webhook-url", default=None, help="where to send the platform's webhooks")
    dev = commands.add_parser("dev", help="run everything on an embedded broker and Redis")
    dev.add_argument("--state", type=Path, default=Path(".personalize"), help="state folder (Redis AOF, logs)")
    dev.add_argument("--no-demo-order", action="store_true", help="do not place the sample order")
    dev.add_argument("--exit-after", type=float, default=None, help="stop by itself after this many seconds")
    soak = commands.add_parser("soak", help="chaos soak: the whole stack under orders and faults, then a check")
    soak.add_argument("--minutes", type=float, default=5.0, help="how long orders are placed and faults made")
    soak.add_argument("--seed", type=int, default=1, help="the plan's seed: same seed, same orders and faults")
    soak.add_argument("--rate", type=float, default=1.0, help="orders per second over the five stores")
    soak.add_argument("--state", type=Path, default=Path(".personalize/soak"), help="state folder (wiped first)")
    soak.add_argument("--link-ttl", default="20s", help="PERSONALIZE_LINK_TTL of the run (longer for long runs)")
    soak.add_argument("--drain", type=float, default=240.0, help="seconds to wait for the system to settle")
    docs = commands.add_parser("docs", help="write the event JSON Schemas and the AsyncAPI document into docs/")
    docs.add_argument("--check", action="store_true", help="fail if docs/ is not current instead of writing")
    add_merchant_commands(commands)
    add_store_commands(commands)
    add_api_commands(commands)
    args = parser.parse_args(argv)

    try:
        return _run(args)
    except (ConfigError, SettingsError) as error:
        print(f"personalize {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


DEV_TOOLS = ("dev", "soak", "docs")
SERVICES = ("core", "notifier", "editor", "connector")  # the API starts from merchant_api.commands
S = TypeVar("S", bound=Settings)


def _run(args: argparse.Namespace) -> int:
    if args.command in DEV_TOOLS:
        return _run_dev_tool(args)
    if args.command in SERVICES:
        _run_service(args)
        return 0
    if args.command == "sandbox":
        from sandboxes.main import run as run_sandbox

        run_sandbox(args.platform, _settings(Settings), args.port, args.store, args.webhook_url)
        return 0
    if args.command in ("publish-product", "test-order"):
        return run_merchant_command(args)
    if args.command == "stores":
        setup_logging("WARNING", None)  # the command's own lines are its output
        return run_store_command(args)
    if args.command in ("api", "keys"):
        return run_api_command(args)
    raise AssertionError(args.command)


def _settings(kind: type[S], **overrides: object) -> S:
    """The command's settings from the environment, with its flags over them; logging set up as they say."""
    settings = load_settings(kind)
    given = {name: value for name, value in overrides.items() if value is not None}
    if given:
        settings = settings.model_copy(update=given)
    setup_logging(settings.log_level, settings.log_format)
    return settings


def _run_service(args: argparse.Namespace) -> None:
    """A service's modules are imported by its own command only, in the process that runs it."""
    if args.command == "core":
        from core.main import run as run_core
        from core.settings import CoreSettings

        asyncio.run(run_core(_settings(CoreSettings)))
    elif args.command == "notifier":
        from notifier.main import run as run_notifier
        from notifier.settings import NotifierSettings

        asyncio.run(run_notifier(_settings(NotifierSettings)))
    elif args.command == "editor":
        from editor_service.main import run as run_editor
        from editor_service.settings import EditorSettings

        _run_http_service(run_editor(_settings(EditorSettings, editor_port=args.port)))
    else:
        from connectors.main import run as run_connector
        from connectors.settings import ConnectorSettings

        _run_http_service(run_connector(args.platform, _settings(ConnectorSettings, connector_port=args.port)))


def _run_dev_tool(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("devstack") is None or importlib.util.find_spec("soak") is None:
        print(
            f"personalize {args.command} runs from a checkout of the project: `python -m personalize "
            f"{args.command}` in its folder (or `make demo` / `make soak` / `make docs`)",
            file=sys.stderr,
        )
        return 2
    if args.command == "dev":
        from devstack.dev import run_dev

        return run_dev(args.state, demo_order=not args.no_demo_order, exit_after=args.exit_after)
    if args.command == "soak":
        from soak import SoakOptions, run_soak

        return run_soak(
            SoakOptions(
                minutes=args.minutes,
                seed=args.seed,
                rate=args.rate,
                state=args.state,
                link_ttl=args.link_ttl,
                drain_s=args.drain,
            )
        )[0]
    if args.command == "docs":
        from devstack.docs import write_docs
        from merchant_api.app import openapi_document

        return write_docs(Path("docs"), check=args.check, extra={"merchant-api.openapi.json": openapi_document()})
    raise AssertionError(args.command)


def _run_http_service(main: Coroutine[Any, Any, None]) -> None:
    """The HTTP services run on uvloop (uvicorn[standard] brings it) when it is installed, and with a calmer
    cyclic garbage collector: both cost less CPU per request (`benchmarks/README.md` has the numbers)."""
    # Every request allocates hundreds of short-lived objects (a webhook's order, a page's sections): at the
    # default threshold of 700 the collector ran every few requests, walking the long-lived heap too.
    calm_collector(20_000)
    try:
        import uvloop
    except ImportError:  # not built for this platform: asyncio's loop works, only slower
        asyncio.run(main)
        return
    uvloop.run(main)


if __name__ == "__main__":
    sys.exit(main())
