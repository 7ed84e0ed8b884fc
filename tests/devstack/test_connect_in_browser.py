"""`personalize dev` as a merchant meets it: from the printed connect URL, each of the five platforms' sandbox shops
is connected in a real browser (chromium), with no YAML edit and no restart, and an order placed in each
connected shop reaches that merchant's email."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import Page, sync_playwright
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from connectors.stores import Sealer
from connectors.stores.postgres import PostgresStoreRegistry
from devstack.connect_shops import SHOPS
from schemas import EVENTS_BY_TOPIC
from tests.editor_service.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.secrets_sweep import Leftovers, postgres_rows, redis_values, topic_records

# Its own broker, Redis, PostgreSQL, mail catcher and every service; five flows and five orders: about 2 min.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(360)]

EXAMPLE = Path(__file__).parents[2] / "examples" / "config.yaml"
PLATFORMS = ("woocommerce", "etsy", "wix", "squarespace", "bigcommerce")
# What the sandboxes' consent pages ask the merchant to click (each as its platform words it).
CONSENT = "button[value=install], button[value=allow], a.wc-auth-approve"
# Our last page; BigCommerce's external install ends on its own, which closes its install window.
CONNECTED = ("Store connected", "The app was installed.")
ENDS = (*CONNECTED, "Store not connected", "could not be installed")


class Output:
    """dev's stdout, read as it comes (a pipe left unread would block it)."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text())
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"dev never printed {pattern!r}:\n{self.text()[-4000:]}")


def connect_in_browser(page: Page, url: str) -> str:
    """Our connect URL, then the platform's consent page, clicked through as a merchant does; our final page."""
    page.goto(url)
    for _ in range(4):
        text = page.inner_text("body")
        if any(end in text for end in ENDS):
            return text
        page.click(CONSENT)
        page.wait_for_load_state()
    return page.inner_text("body")


SECRET_NAMES = ("token", "secret", "consumer_key", "api_key")


async def connected_secrets(out: Output, state: Path) -> dict[str, str]:
    """Every secret credential of the stores connected in the browser, opened with the run's key."""
    found: dict[str, str] = {}
    async with AsyncConnectionPool(out.wait_for(r"  postgres   (\S+):", 1).group(1), open=False) as pool:
        registry = PostgresStoreRegistry(pool, Sealer([(state / "credentials.key").read_text().strip()]))
        for store in await registry.stores():
            if store.store_id.startswith("demo-"):
                continue  # a YAML store: its credentials are the YAML's, in clear in that file
            opened = (await registry.credentials(store.platform, store.store_id)).values
            for name, value in opened.items():
                if any(word in name for word in SECRET_NAMES) and len(value) >= 8:
                    found[f"{store.platform} {name}"] = value
    return found


async def leftovers(out: Output) -> Leftovers:
    left = Leftovers()
    assert await asyncio.to_thread(postgres_rows, out.wait_for(r"  postgres   (\S+):", 1).group(1), left) > 0
    redis = Redis.from_url(out.wait_for(r"  redis      (\S+)", 1).group(1))
    try:
        assert await redis_values(redis, left) > 0
    finally:
        await redis.aclose()
    kafka = out.wait_for(r"  kafka      (\S+)", 1).group(1)
    assert await topic_records(kafka, list(EVENTS_BY_TOPIC), left) > 0
    left.add("dev's output: every service's log", out.text())
    return left


def mails_to(folder: Path, address: str) -> list[EmailMessage]:
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if address in str(message["To"]):
            found.append(message)
    return found


def test_each_platforms_shop_is_connected_in_the_browser_and_its_order_reaches_the_merchant(tmp_path: Path):
    state = tmp_path / "state"
    env = {
        **os.environ,
        **dict.fromkeys(("PERSONALIZE_KAFKA_BOOTSTRAP", "PERSONALIZE_REDIS_URL", "PERSONALIZE_SMTP_URL"), ""),
        "PERSONALIZE_DATABASE_URL": "",
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "PERSONALIZE_LINK_DELAY": "1s",
    }
    dev = subprocess.Popen(
        [sys.executable, "-m", "personalize", "dev", "--state", str(state), "--no-demo-order", "--exit-after", "280"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Output(dev.stdout)
    products = {s["platform"]: s["products"][0] for s in yaml.safe_load(EXAMPLE.read_text())["stores"]}
    try:
        urls = {p: out.wait_for(rf"    {p:<11} (http://\S+/connect/{p}/start\S*)", 120).group(1) for p in PLATFORMS}
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for platform in PLATFORMS:
                    email = f"connected-{platform}@example.com"
                    page = chromium.new_context().new_page()  # a merchant of their own: no cookie of another's
                    final = connect_in_browser(page, urls[platform].replace("you%40example.com", email))
                    assert any(done in final for done in CONNECTED), f"{platform}: {final}"
                    out.wait_for(rf"dev: {platform}:\S+ connected \({re.escape(email)}\)", 60)
            finally:
                chromium.close()
        for platform in PLATFORMS:
            item = {"product_id": products[platform]["product_id"], "quantity": 1, "buyer_text": "Ada"}
            placed = httpx.post(f"{SHOPS[platform].url}/_sandbox/orders", json={"items": [item]}, timeout=10)
            assert placed.status_code < 300, placed.text
        # Most come by webhook within 2 s. WooCommerce's are registered at the store's first webhook check (within
        # a tenth of PERSONALIZE_WEBHOOK_HEALTH_INTERVAL of connecting), so an order placed at once is found by
        # the next poll, up to a minute later.
        deadline = time.monotonic() + 150
        waiting = set(PLATFORMS)
        while waiting and time.monotonic() < deadline:
            waiting = {p for p in waiting if not mails_to(state / "mail", f"connected-{p}@example.com")}
            time.sleep(0.5)
        assert not waiting, (
            f"no email for the orders of the shops connected on {sorted(waiting)}:\n{out.text()[-6000:]}"
        )
        # What the run left behind holds none of the connected stores' tokens and secrets in clear.
        secrets = asyncio.run(connected_secrets(out, state))
        assert {name.split(" ")[0] for name in secrets} >= set(PLATFORMS), sorted(secrets)
        left = asyncio.run(leftovers(out))
        assert left.found(secrets) == [], "secrets in clear"
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(60)
    assert dev.returncode == 0, out.text()[-4000:]
