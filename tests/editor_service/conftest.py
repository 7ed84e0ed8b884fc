"""The editor's own broker and Redis, `personalize editor` as a real process, and links published as the notifier does."""

from __future__ import annotations

import asyncio
import io
import secrets
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, async_playwright
from redis.asyncio import Redis

from devstack.embedded import free_port
from devstack.mailcatcher import MailCatcher
from editor_service.state import EditorStore
from plumbing.links import link_url, new_token, token_hash
from schemas import OrderStatus, OrderStatusChanged, PersonalizationLinkIssued, RequestedItem
from tests.builders import load_test_config
from tests.servers import own_bus, own_servers
from tests.support import ServiceProcess, send, unique_id

SECRET = "editor-test-secret-" + "x" * 24
TEMPLATE = load_test_config().template("name-mug")


servers = own_servers("editor", mail=False)
bus = own_bus()


def editor_env(servers: dict, **extra: str) -> dict[str, str]:
    return {
        "PERSONALIZE_KAFKA_BOOTSTRAP": servers["broker"].address,
        "PERSONALIZE_REDIS_URL": f"redis://{servers['redis'].address}/0",
        "PERSONALIZE_EDITOR_SECRET": SECRET,
        "PERSONALIZE_ASSETS_DIR": str(servers["state"] / "assets"),
        "PERSONALIZE_EDITOR_GROUP": f"editor-{unique_id()}",
        "PERSONALIZE_EDITOR_RATE_PER_ADDRESS": "100000",
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        **extra,
    }


def stack_env(servers: dict, redis_db: int, config: Path, mail: MailCatcher, **extra: str) -> dict[str, str]:
    """What each service of a whole stack on this package's servers starts with (one Redis database each stack)."""
    return {
        "PERSONALIZE_KAFKA_BOOTSTRAP": servers["broker"].address,
        "PERSONALIZE_REDIS_URL": f"redis://{servers['redis'].address}/{redis_db}",
        "PERSONALIZE_CONFIG": str(config),
        "PERSONALIZE_SMTP_URL": mail.url,
        "PERSONALIZE_LINK_DELAY": "1s",
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        **extra,
    }


@asynccontextmanager
async def editor_store(servers: dict, redis_db: int) -> AsyncIterator[EditorStore]:
    """The editor's Redis state in a database of this package's Redis."""
    redis = Redis.from_url(f"redis://{servers['redis'].address}/{redis_db}")
    try:
        yield EditorStore(redis)
    finally:
        await redis.aclose()


class Editor:
    """A running `personalize editor`, the URL it answers on and that of its ops routes (not public)."""

    def __init__(self, service: ServiceProcess, port: int, ops_port: int) -> None:
        self.service, self.port = service, port
        self.url = f"http://127.0.0.1:{port}"
        self.ops_url = f"http://127.0.0.1:{ops_port}"

    def link(self, token: str) -> str:
        return link_url(self.url, token)


def running(service: ServiceProcess) -> bool:
    process = cast("subprocess.Popen[bytes]", service.process)  # set by start()
    return process.poll() is None


async def start_editor(servers: dict, log: Path, **extra: str) -> Editor:
    port, ops_port = free_port(), free_port()
    env = {**editor_env(servers, **extra), "PERSONALIZE_OPS_PORT": str(ops_port)}
    service = ServiceProcess(["editor", "--port", str(port)], env, log)
    service.start()
    editor = Editor(service, port, ops_port)
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(150):
            assert running(service), service.log_tail()
            try:
                if (await http.get(f"{editor.ops_url}/health/ready")).status_code == 200:
                    return editor
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the editor did not come up:\n{service.log_tail()}")


@pytest.fixture(scope="package")
async def editor(servers: dict, bus: dict) -> AsyncIterator[Editor]:
    running = await start_editor(servers, servers["state"] / "editor.log")
    yield running
    assert await asyncio.to_thread(running.service.stop) == 0, running.service.log_tail()


@pytest.fixture
async def http(editor: Editor) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=editor.url, timeout=10) as client:
        yield client


def link_event(
    public_url: str,
    *,
    token: str | None = None,
    number: str | None = None,
    sequence: int = 1,
    expires_in: timedelta = timedelta(days=7),
    items: list[RequestedItem] | None = None,
    buyer_text: str | None = "Ada",
) -> tuple[str, PersonalizationLinkIssued]:
    """A link as the notifier's scheduler issues it."""
    token, number = token or new_token(), number or unique_id()
    now = datetime.now(UTC)
    items = items or [
        RequestedItem(line_id="L1", title="Name mug", quantity=2, template=TEMPLATE, buyer_personalization=buyer_text)
    ]
    return token, PersonalizationLinkIssued(
        order_key=f"woocommerce:shop-manual:{number}",
        occurred_at=now,
        link_id=secrets.token_hex(8),
        url=link_url(public_url, token),
        expires_at=now + expires_in,
        sequence=sequence,
        merchant_email="manual@example.com",
        store_id="shop-manual",
        platform="woocommerce",
        order_number=number,
        items=items,
    )


async def wait_known(url: str, status: int = 200, within_s: float = 20.0) -> httpx.Response:
    """GET the link until the editor has consumed it (it answers 404 before)."""
    async with httpx.AsyncClient(timeout=5) as client:
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            response = await client.get(url)
            if response.status_code == status or asyncio.get_running_loop().time() > deadline:
                return response
            await asyncio.sleep(0.1)


async def wait_recorded(servers: dict, token: str, db: int = 0, within_s: float = 20.0) -> None:
    """Wait until the editor has the link in Redis, without a request that its rate limits would count."""
    redis = Redis.from_url(f"redis://{servers['redis'].address}/{db}")
    try:
        for _ in range(int(within_s / 0.1)):
            if await redis.exists(f"editor:link:{token_hash(token)}"):
                return
            await asyncio.sleep(0.1)
    finally:
        await redis.aclose()
    raise AssertionError("the editor did not record the link")


async def publish_link(bus: dict, editor: Editor, **kwargs: Any) -> tuple[str, PersonalizationLinkIssued]:
    token, event = link_event(editor.url, **kwargs)
    await send(bus["producer"], event)
    return token, event


async def set_status(bus: dict, order_key: str, to: OrderStatus, at: datetime | None = None) -> OrderStatusChanged:
    change = OrderStatusChanged(
        order_key=order_key,
        from_status=OrderStatus.PENDING_PERSONALIZATION,
        to_status=to,
        reason="test",
        occurred_at=at or datetime.now(UTC),
    )
    await send(bus["producer"], change)
    return change


def png(width: int = 64, height: int = 48, color: str = "teal", kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, kind)
    return out.getvalue()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium (`make test` installs it: scripts/need-chromium); missing, the browser tests fail rather than skip."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


def plain_text(email: EmailMessage) -> str:
    body = email.get_body(("plain",))
    assert body is not None, "an email without a text part"
    return body.get_content()


async def email_with(mail: MailCatcher, text: str, within_s: float = 60) -> EmailMessage:
    """The one email caught whose text part carries `text` (a link), waiting for it."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        found = [m for m in mail.messages if text in plain_text(m)]
        if found:
            (email,) = found
            return email
        assert asyncio.get_running_loop().time() < deadline, f"no email with {text}"
        await asyncio.sleep(0.2)
