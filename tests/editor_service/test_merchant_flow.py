"""The seed's "How can I test", end to end as a merchant does it, through every real process.

A WooCommerce sandbox store and its connector, core, the notifier, the editor
and the merchant API run as `personalize <command>`; the merchant publishes a
draft product through the API, places a test order with `personalize
test-order`, gets the email at the SMTP server, the customer completes the
link in Chromium, and the merchant sees the order in the API as
`pending_approval` with its personalization, approves it there, and
`FulfillmentRequested` follows.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import httpx
import pytest
from playwright.async_api import expect

from devstack.embedded import free_port
from devstack.mailcatcher import MailCatcher
from plumbing.config import load_config
from sandboxes.base import make_sandbox_app
from sandboxes.main import sandbox_for
from schemas import FulfillmentRequested, PersonalizationLinkIssued
from tests.connectors.stacks import STORES, write_config
from tests.editor_service.conftest import email_with, plain_text, running, stack_env, start_editor, wait_known
from tests.support import InProcessServer, ServiceProcess, unique_id

pytestmark = pytest.mark.integration  # starts servers or service processes of its own

PLATFORM = "woocommerce"
STORE = f"{PLATFORM}:{STORES[PLATFORM]['store_id']}"


async def personalize(*args: str, env: dict[str, str]) -> str:
    # Off the loop: the sandbox store this command talks to is served by this very loop.
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "personalize.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def until_up(url: str, service: ServiceProcess, within_s: float = 60) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        deadline = asyncio.get_running_loop().time() + within_s
        while asyncio.get_running_loop().time() < deadline:
            assert running(service), service.log_tail()
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not come up:\n{service.log_tail()}")


async def order_in(api: httpx.AsyncClient, order_key: str, status: str, within_s: float = 60) -> dict:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        response = await api.get(f"/orders/{order_key}")
        if response.status_code == 200 and response.json()["status"] == status:
            return response.json()
        assert asyncio.get_running_loop().time() < deadline, f"{order_key} never reached {status}: {response.text}"
        await asyncio.sleep(0.2)


async def test_publish_test_order_personalize_approve_through_the_api(servers, bus, browser, tmp_path):
    mail = MailCatcher(tmp_path / "mail").start()
    sandbox = InProcessServer()
    config = write_config(tmp_path / "config.yaml", PLATFORM, sandbox.url)
    connector_port, api_port = free_port(), free_port()
    ops = {"connector": free_port(), "api": free_port()}  # their /health: not on their public port
    env = stack_env(
        servers,
        4,
        config,
        mail,
        PERSONALIZE_OPS_PORT="0",
        PERSONALIZE_CORE_GROUP=f"flow-core-{unique_id()}",
        PERSONALIZE_NOTIFIER_GROUP=f"flow-{unique_id()}",
        PERSONALIZE_HOOKS_GROUP=f"flow-hooks-{unique_id()}",
    )
    editor = await start_editor(servers, tmp_path / "editor.log", **env)
    env["PERSONALIZE_PUBLIC_URL"] = editor.url
    (store,) = load_config(config).stores
    store_app = make_sandbox_app(
        sandbox_for(PLATFORM), store, f"http://127.0.0.1:{connector_port}/webhooks/{PLATFORM}/{store.store_id}"
    )
    await sandbox.start(store_app)
    services = [
        ServiceProcess(
            command, {**env, "PERSONALIZE_OPS_PORT": str(ops.get(command[0], 0))}, tmp_path / f"{command[0]}.log"
        )
        for command in (
            ["core"],
            ["notifier"],
            ["connector", PLATFORM, "--port", str(connector_port)],
            ["api", "--port", str(api_port)],
        )
    ]
    for service in services:
        service.start()
    recorder = bus["recorder"]
    try:
        await until_up(f"http://127.0.0.1:{ops['connector']}/health/ready", services[2])
        await until_up(f"http://127.0.0.1:{ops['api']}/health/ready", services[3])
        key = (await personalize("keys", "create", "--store", STORE, env=env)).splitlines()[0]
        api = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{api_port}", timeout=15, headers={"Authorization": f"Bearer {key}"}
        )

        # 1-2. Publish a draft personalizable product: on the platform, hidden, with the notice; in the catalog.
        published = await api.post(
            f"/stores/{STORE}/products/publish",
            json={"template": "name-mug", "title": "Poster with your name", "price": "24.50", "draft": True},
        )
        assert published.status_code == 201, published.text
        product_id = published.json()["product_id"]
        product = store_app.state.sandbox.products[product_id]
        assert product["status"] == "draft" and "link" in product["description"]
        catalog = (await api.get(f"/stores/{STORE}/products")).json()
        assert {"product_id": product_id, "template": "name-mug"} in [
            {k: v for k, v in entry.items() if v is not None} for entry in catalog
        ]

        # 3. A paid test order of it, placed on the store.
        placed = await personalize("test-order", "--store", STORE, "--product", product_id, env=env)
        found = re.search(r"placed test order (\S+)", placed)
        assert found, placed
        order_id = found.group(1)
        order_key = f"{STORE}:{order_id}"

        # 4. It reaches us and waits for personalization.
        waiting = await order_in(api, order_key, "pending_personalization")
        assert waiting["is_test"] is True

        # 5. The email with the link (to the merchant, who forwards it). This package's broker holds other tests'
        # requests too, which this fresh notifier also mails: pick ours by the link the notifier issued for it.
        await recorder.wait_for(order_key, lambda es: any(isinstance(e, PersonalizationLinkIssued) for e in es), 60)
        (issued,) = recorder.events(order_key, PersonalizationLinkIssued)
        link = issued.url
        email = await email_with(mail, link)
        assert "forward" in plain_text(email).lower()

        # 6. The customer personalizes in the editor.
        assert (await wait_known(link)).status_code == 200
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        tab = await context.new_page()
        await tab.goto(link)
        await tab.get_by_role("textbox", name="Name").fill("Grace")
        await tab.get_by_role("button", name="Complete personalization").click()
        await expect(tab.get_by_role("dialog", name="Thank you!")).to_be_visible()
        await context.close()

        # The merchant sees it waiting for approval (a test order always waits), with what the customer gave ...
        done = await order_in(api, order_key, "pending_approval")
        assert [item["fields"] for item in done["personalization"]] == [{"name": "Grace"}]
        assert done["links"][0]["opened_at"] and done["links"][0]["completed_at"]

        # ... approves it through the API, and it goes to fulfillment.
        approved = await api.post(f"/orders/{order_key}/approve", json={"reason": "looks good"})
        assert approved.status_code == 202, approved.text
        await recorder.wait_for(order_key, lambda es: any(isinstance(e, FulfillmentRequested) for e in es), 60)
        (fulfillment,) = recorder.events(order_key, FulfillmentRequested)
        assert fulfillment.is_test and fulfillment.line_items[0].personalization.fields == {"name": "Grace"}
        assert (await order_in(api, order_key, "in_fulfillment"))["status"] == "in_fulfillment"
        again = await api.post(f"/orders/{order_key}/approve", json={})
        assert again.status_code == 409
        await api.aclose()
    finally:
        for service in reversed(services):
            await asyncio.to_thread(service.stop)
        await asyncio.to_thread(editor.service.stop)
        await sandbox.stop()
        mail.stop()
