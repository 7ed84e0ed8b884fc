"""The `personalize` command: one subcommand per deployable, plus `dev` and `docs`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from personalize.config import ConfigError
from personalize.logs import setup_logging
from personalize.settings import SettingsError, load_settings
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
    docs = commands.add_parser("docs", help="write the event JSON Schemas and the AsyncAPI document into docs/")
    docs.add_argument("--check", action="store_true", help="fail if docs/ is not current instead of writing")
    args = parser.parse_args(argv)

    try:
        return _run(args)
    except (ConfigError, SettingsError) as error:
        print(f"personalize {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "core":
        from core.main import run
        from core.settings import CoreSettings

        settings = load_settings(CoreSettings)
        setup_logging(settings.log_level)
        asyncio.run(run(settings))
        return 0
    if args.command == "notifier":
        from notifier.main import run as run_notifier
        from notifier.settings import NotifierSettings

        settings = load_settings(NotifierSettings)
        setup_logging(settings.log_level)
        asyncio.run(run_notifier(settings))
        return 0
    if args.command == "editor":
        from editor_service.main import run as run_editor
        from editor_service.settings import EditorSettings

        settings = load_settings(EditorSettings)
        if args.port is not None:
            settings = settings.model_copy(update={"editor_port": args.port})
        setup_logging(settings.log_level)
        asyncio.run(run_editor(settings))
        return 0
    if args.command == "connector":
        from connectors.main import run as run_connector
        from connectors.settings import ConnectorSettings

        settings = load_settings(ConnectorSettings)
        if args.port is not None:
            settings = settings.model_copy(update={"connector_port": args.port})
        setup_logging(settings.log_level)
        asyncio.run(run_connector(args.platform, settings))
        return 0
    if args.command == "sandbox":
        from personalize.settings import Settings
        from sandboxes.main import run as run_sandbox

        settings = load_settings(Settings)
        setup_logging(settings.log_level)
        run_sandbox(args.platform, settings, args.port, args.store, args.webhook_url)
        return 0
    if args.command == "dev":
        from personalize.dev import run_dev

        return run_dev(args.state, demo_order=not args.no_demo_order, exit_after=args.exit_after)
    if args.command == "docs":
        from personalize.docs import write_docs

        return write_docs(Path("docs"), check=args.check)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
