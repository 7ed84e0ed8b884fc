"""`personalize dev`: the whole system on one machine, on an embedded broker, Redis and mail server.

Every deployable runs as the same subprocess production runs (`personalize
core`, `notifier`, `connector <platform>`), plus one sandbox store per
platform in the config, pointed at each other on loopback. A sample order is
placed on every sandbox, and every event is printed as it flows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn

from devstack.api_keys import create_api_keys
from devstack.connect_shops import SHOPS, open_for_connecting
from devstack.connect_shops import write_config as write_shops_config
from devstack.demo import place_demo_orders
from devstack.embedded import (
    LOOPBACK,
    EmbeddedPostgres,
    EmbeddedServer,
    free_port,
    start_broker,
    start_postgres,
    start_redis,
)
from devstack.mailcatcher import MailCatcher, mailbox_app
from devstack.ports import check_ports_free, taken
from devstack.printer import print_events
from devstack.supervise import supervise
from plumbing.config import StoreConfig, load_config
from plumbing.kafka import ensure_topics
from plumbing.lifecycle import stop_on_signals
from plumbing.ops import (
    API_OPS_PORT,
    CONNECTOR_OPS_PORT,
    CORE_OPS_PORT,
    EDITOR_OPS_PORT,
    NOTIFIER_OPS_PORT,
    ServiceServer,
)
from plumbing.settings import Settings, load_settings
from schemas import EVENTS_BY_TOPIC

CONNECTOR_PORTS = 8401  # + the store's index among those with a sandbox
MAILBOX_PORT = 8025
EDITOR_PORT = 8600  # PERSONALIZE_PUBLIC_URL's default, so the link in the dev email opens it
API_PORT = 8700  # PERSONALIZE_API_PORT's default, so docs/merchant-api.md's curl examples work as written
# Every service's ops routes on its own port, apart from its public one; connector i on CONNECTOR_OPS_PORT + i.
OPS_PORTS = {"core": CORE_OPS_PORT, "notifier": NOTIFIER_OPS_PORT, "editor": EDITOR_OPS_PORT, "api": API_OPS_PORT}
DEV_LINK_DELAY = "20s"  # the real default is 15m; a newcomer should see the email while watching
# dev's own default, named to its children: a service has none, since this file's secrets are public.
EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "examples" / "config.yaml"


def run_dev(state: Path, *, demo_order: bool = True, exit_after: float | None = None) -> int:
    settings = load_settings(Settings)
    config_path = (settings.config or EXAMPLE_CONFIG).resolve()
    config = load_config(config_path)  # a bad file stops here, before anything starts
    stores = [s for s in config.stores if s.base_url and _is_loopback(s.base_url)]
    # One shop per platform to connect in the browser, beside the YAML's (devstack/connect_shops.py).
    connectors: dict[str, str] = {}
    for index, store in enumerate(stores):
        if store.platform in SHOPS:
            connectors.setdefault(store.platform, f"http://{LOOPBACK}:{CONNECTOR_PORTS + index}")
    check_ports_free(
        [_sandbox_port(s) for s in stores]
        + [CONNECTOR_PORTS + i for i in range(len(stores))]
        + [SHOPS[p].port for p in connectors]
        + [MAILBOX_PORT, EDITOR_PORT, API_PORT]
    )
    state.mkdir(parents=True, exist_ok=True)
    shops_config = write_shops_config(state / "connect-shops.yaml", list(connectors))
    servers: list[EmbeddedServer] = []
    services: dict[str, subprocess.Popen] = {}
    mail: MailCatcher | None = None
    postgres: EmbeddedPostgres | None = None
    try:
        env = dict(os.environ, PERSONALIZE_CONFIG=str(config_path))
        env.setdefault("PERSONALIZE_LINK_DELAY", DEV_LINK_DELAY)
        # One random key per dev run, shared by every editor copy it starts; production sets its own.
        env.setdefault("PERSONALIZE_EDITOR_SECRET", secrets.token_urlsafe(32))
        env.setdefault("PERSONALIZE_ASSETS_DIR", str((state / "assets").resolve()))
        # Every child writes to this terminal: lines for people, whatever the terminal turns out to be.
        env.setdefault("PERSONALIZE_LOG_FORMAT", "text")
        env.setdefault("PERSONALIZE_HOOKS_ALLOW_LOCAL", "true")  # automation webhooks to local receivers over http
        if not settings.kafka_bootstrap:
            servers.append(start_broker(state))
            env["PERSONALIZE_KAFKA_BOOTSTRAP"] = servers[-1].address
        if not settings.redis_url:
            servers.append(start_redis(state))
            env["PERSONALIZE_REDIS_URL"] = f"redis://{servers[-1].address}/0"
        if not os.environ.get("PERSONALIZE_DATABASE_URL"):
            postgres = start_postgres((state / "postgres").resolve())
            env["PERSONALIZE_DATABASE_URL"] = postgres.url
        env.setdefault("PERSONALIZE_CREDENTIALS_KEY", _credentials_key(state))
        if not os.environ.get("PERSONALIZE_SMTP_URL"):
            mail = MailCatcher(state / "mail").start()
            env["PERSONALIZE_SMTP_URL"] = mail.url
        ops: dict[str, int] = {}
        for name, argv, extra in _services(stores, connectors, shops_config):
            child = {**env, **extra}
            if wanted := _ops_port(name, ops):  # a sandbox has none
                # The service's default when free, else any: a test's core may hold it, and it is not worth refusing.
                ops[name] = wanted if not taken([wanted]) else free_port()
                child["PERSONALIZE_OPS_PORT"] = str(ops[name])
            services[name] = subprocess.Popen(
                [sys.executable, "-m", "personalize.cli", *argv], env=child, start_new_session=True
            )
        _print_summary(env, servers, services, config_path, stores, mail, ops)
        keys = create_api_keys(env["PERSONALIZE_REDIS_URL"], (s.key for s in config.stores), "personalize dev")
        _print_api_keys(asyncio.run(keys))
        connecting = open_for_connecting(connectors, stores, env, f"http://{LOOPBACK}:{API_PORT}")
        return asyncio.run(_watch(env, services, stores if demo_order else [], mail, exit_after, connecting))
    finally:
        for process in services.values():
            if process.poll() is None:
                process.terminate()
        for name, process in services.items():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                print(f"dev: {name} did not stop within 10 s; killing it", file=sys.stderr)
                process.kill()
        if mail:
            mail.stop()
        if postgres:
            postgres.stop()
        for server in reversed(servers):
            server.stop()
        print("dev: stopped")


def _services(
    stores: list[StoreConfig], connectors: dict[str, str], shops_config: Path
) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, `personalize` arguments, environment beyond dev's) of every service dev runs."""
    services: list[tuple[str, list[str], dict[str, str]]] = [
        ("core", ["core"], {}),
        ("notifier", ["notifier"], {}),
        ("editor", ["editor", "--port", str(EDITOR_PORT)], {}),
        ("api", ["api", "--port", str(API_PORT)], {}),
    ]
    for index, store in enumerate(stores):
        port = CONNECTOR_PORTS + index
        hook = f"http://{LOOPBACK}:{port}/webhooks/{store.platform}/{store.store_id}"
        sandbox = ["sandbox", store.platform, "--port", str(_sandbox_port(store)), "--store", store.store_id]
        services.append((f"sandbox {store.platform}", [*sandbox, "--webhook-url", hook], {}))
        app: dict[str, str] = {}
        if (connector := connectors.get(store.platform)) is not None and connector.endswith(f":{port}"):
            shop = SHOPS[store.platform]
            app = shop.app_env(connector)
            argv = ["sandbox", shop.platform, "--port", str(shop.port), "--store", shop.store_id]
            if hooks := shop.webhook_url(connector):
                argv += ["--webhook-url", hooks]
            services.append((f"connect sandbox {shop.platform}", argv, {"PERSONALIZE_CONFIG": str(shops_config)}))
        services.append((f"connector {store.platform}", ["connector", store.platform, "--port", str(port)], app))
    return services


def _credentials_key(state: Path) -> str:
    """The dev registry's key, made once into the state folder: the stores sealed with it open at the next run."""
    from connectors.stores import new_key

    path = state / "credentials.key"
    if not path.exists():
        path.write_text(new_key())
        path.chmod(0o600)
    return path.read_text().strip()


def _print_summary(
    env: dict[str, str],
    servers: list[EmbeddedServer],
    services: dict[str, subprocess.Popen],
    config: Path,
    stores: list[StoreConfig],
    mail: MailCatcher | None,
    ops: dict[str, int],
) -> None:
    embedded = {s.name for s in servers}
    print("personalize dev is up (Ctrl-C stops everything)")
    print(
        f"  kafka      {env['PERSONALIZE_KAFKA_BOOTSTRAP']}"
        + (" (embedded Tansu, memory only)" if "broker" in embedded else "")
    )
    print(
        f"  redis      {env['PERSONALIZE_REDIS_URL']}"
        + (" (embedded, append-only file in the state folder)" if "redis" in embedded else "")
    )
    print(
        f"  mail       {env['PERSONALIZE_SMTP_URL']}"
        + (f"; read it at http://{LOOPBACK}:{MAILBOX_PORT}/" if mail else "")
    )
    # The embedded server's URL is a socket path without a password; one given in the environment is never printed.
    database = (
        "PERSONALIZE_DATABASE_URL" if os.environ.get("PERSONALIZE_DATABASE_URL") else env["PERSONALIZE_DATABASE_URL"]
    )
    print(
        f"  postgres   {database}: the store registry; `personalize stores list` from another terminal, with this "
        "run's PERSONALIZE_DATABASE_URL, PERSONALIZE_KAFKA_BOOTSTRAP and PERSONALIZE_CREDENTIALS_KEY (the state "
        "folder's credentials.key)"
    )
    print(f"  config     {config} (link delay {env['PERSONALIZE_LINK_DELAY']})")
    for index, store in enumerate(stores):
        print(f"  {store.platform:<11} sandbox {store.base_url}, connector http://{LOOPBACK}:{CONNECTOR_PORTS + index}")
    print(
        f"  ops        {', '.join(f'{name} http://{LOOPBACK}:{port}/metrics' for name, port in ops.items())}"
        " (/health/live, /health/ready beside each)"
    )
    print(f"  processes  {', '.join(f'{name} ({p.pid})' for name, p in services.items())}")
    print("  events on every topic are printed below as they flow", flush=True)


def _print_api_keys(keys: dict[str, str]) -> None:
    print(f"  merchant API http://{LOOPBACK}:{API_PORT} (OpenAPI at /docs), one key per store, new each run:")
    for store, key in keys.items():
        print(f"    {store:<30} {key}")
    if keys:
        key = next(iter(keys.values()))
        print(f"    try: curl -H 'Authorization: Bearer {key}' http://{LOOPBACK}:{API_PORT}/orders", flush=True)


async def _watch(
    env: dict[str, str],
    services: dict[str, subprocess.Popen],
    demo_stores: list[StoreConfig],
    mail: MailCatcher | None,
    exit_after: float | None,
    connecting: Coroutine[Any, Any, None] | None = None,
) -> int:
    stop = stop_on_signals(deadline_s=None)  # dev outlives its children: it stops the broker and Redis after them
    settings = Settings(kafka_bootstrap=env["PERSONALIZE_KAFKA_BOOTSTRAP"])
    await ensure_topics(settings, EVENTS_BY_TOPIC)
    jobs: dict[str, Coroutine[Any, Any, None]] = {"event printer": print_events(settings.required_bootstrap())}
    if mail:
        jobs["mailbox"] = _serve_mailbox(mail)
    if demo_stores:
        jobs["demo orders"] = place_demo_orders(demo_stores)
    if connecting is not None:
        jobs["connect sandboxes"] = connecting
    return await supervise(services, jobs, stop, exit_after, finite=frozenset({"demo orders"}))


async def _serve_mailbox(mail: MailCatcher) -> None:
    server = ServiceServer(  # dev handles the signals
        uvicorn.Config(mailbox_app(mail), host=LOOPBACK, port=MAILBOX_PORT, log_level="warning", lifespan="off")
    )
    try:
        await server.serve()
    except SystemExit as exit_:  # uvicorn exits the process when it cannot bind; here that is a failed job
        raise RuntimeError(f"the mailbox could not listen on {LOOPBACK}:{MAILBOX_PORT}") from exit_
    finally:
        server.should_exit = True


def _ops_port(service: str, given: dict[str, int]) -> int | None:
    """The ops port dev asks for `service`, after those `given` so far: each connector the next of theirs."""
    if service in OPS_PORTS:
        return OPS_PORTS[service]
    if service.startswith("connector "):
        return CONNECTOR_OPS_PORT + sum(name.startswith("connector ") for name in given)
    return None


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in (LOOPBACK, "localhost")


def _sandbox_port(store: StoreConfig) -> int:
    assert store.base_url, "dev runs the sandboxes of the stores with a loopback base_url only"
    return urlsplit(store.base_url).port or 80
