"""The seed's whole flow through real processes: order → core → the notifier's email → the editor → approval.

core, the notifier and the editor run as `personalize <command>` on this
package's broker and Redis, with a 1 s link delay and a local SMTP server; the
test only places the order, reads the merchant's email, and completes the link
over HTTP as the customer's browser would.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from devstack.mailcatcher import MailCatcher
from schemas import OrderStatusChanged, PersonalizationCompleted, PersonalizationLinkIssued
from tests.builders import CONFIG_PATH, MANUAL, mug, order, plain
from tests.editor_service.conftest import email_with, plain_text, png, stack_env, start_editor, wait_known
from tests.support import ServiceProcess, send, unique_id

pytestmark = pytest.mark.integration  # starts servers or service processes of its own


async def test_an_order_is_personalized_from_the_emailed_link_and_reaches_pending_approval(
    servers, bus, browser, tmp_path
):
    mail = MailCatcher(tmp_path / "mail").start()
    env = stack_env(servers, 2, CONFIG_PATH, mail)
    editor = await start_editor(servers, tmp_path / "editor.log", **env)
    env["PERSONALIZE_PUBLIC_URL"] = editor.url
    core = ServiceProcess(
        ["core"], {**env, "PERSONALIZE_CORE_GROUP": f"stack-core-{unique_id()}"}, tmp_path / "core.log"
    )
    notifier = ServiceProcess(
        ["notifier"],
        {
            **env,
            "PERSONALIZE_NOTIFIER_GROUP": f"stack-{unique_id()}",
            "PERSONALIZE_HOOKS_GROUP": f"stack-hooks-{unique_id()}",
        },
        tmp_path / "notifier.log",
    )
    core.start()
    notifier.start()
    recorder = bus["recorder"]
    try:
        placed = order(MANUAL, [mug("L1", buyer_personalization="Ada"), plain("L2")], at=datetime.now(UTC))
        await send(bus["producer"], placed)
        # This package's broker holds other tests' requests too, which this fresh notifier mails as well:
        # ours is the email carrying the link the notifier issued for this order.
        await recorder.wait_for(
            placed.order_key, lambda es: any(isinstance(e, PersonalizationLinkIssued) for e in es), 60
        )
        (issued,) = recorder.events(placed.order_key, PersonalizationLinkIssued)
        email = await email_with(mail, issued.url)
        found = re.search(rf"{re.escape(editor.url)}/p/[A-Za-z0-9_-]+", plain_text(email))
        assert found, plain_text(email)
        link = found.group(0)

        page = await wait_known(link)
        assert page.status_code == 200 and 'value="Ada"' in page.text and "Tote bag" not in page.text
        context = await browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
        tab = await context.new_page()
        await tab.goto(link)
        await expect(tab.get_by_role("textbox", name="Name")).to_have_value("Ada")  # the buyer's checkout text
        await tab.get_by_role("textbox", name="Name").fill("Grace")
        await tab.get_by_role("radio", name="heart").check()
        await tab.get_by_label("Photo").set_input_files({"name": "me.png", "mimeType": "image/png", "buffer": png()})
        await tab.get_by_role("button", name="Complete personalization").click()
        await expect(tab.get_by_role("dialog", name="Thank you!")).to_be_visible()
        await context.close()

        await recorder.wait_for(
            placed.order_key,
            lambda es: any(isinstance(e, OrderStatusChanged) and e.to_status.value == "pending_approval" for e in es),
            30,
        )
        (completion,) = recorder.events(placed.order_key, PersonalizationCompleted)
        assert [i.line_id for i in completion.items] == ["L1"] and completion.items[0].fields["name"] == "Grace"
        reopened = await wait_known(link)
        assert "already been personalized" in reopened.text
    finally:
        await asyncio.to_thread(notifier.stop)
        await asyncio.to_thread(core.stop)
        await asyncio.to_thread(editor.service.stop)
        mail.stop()
