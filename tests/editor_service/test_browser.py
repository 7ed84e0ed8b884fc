"""The customer's flow in headless Chromium (Debian's, driven by Playwright), at desktop and at phone width.

Open the link, type (the preview follows), upload an image, choose clipart,
complete, see the thank-you popup and close it, reopen (already
personalized), open an expired link. No console errors; a screenshot of every
screen under `test-artifacts/screenshots/`. A missing /usr/bin/chromium fails
these tests: `.ci/run` installs it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Page, expect

from schemas import PersonalizationCompleted
from tests.editor_service.conftest import png, publish_link, wait_known

SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "mobile": (375, 740)}


class Screen:
    """One browser page at one width: collects console errors, saves numbered screenshots."""

    def __init__(self, page: Page, width_name: str) -> None:
        self.page, self.width_name, self.shots = page, width_name, 0
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium reports a document answered with 4xx (an expired link is 410) as a failed load; that status
        # is the page's meaning, not an error in it. Anything else is a real console error.
        own_status = (
            message.text.startswith("Failed to load resource: the server responded with a status of 4")
            and message.location.get("url", "").split("?")[0] == self.page.url.split("?")[0]
        )
        if not own_status:
            self.errors.append(f"{message.text} ({message.location})")

    async def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        await self.page.screenshot(path=SCREENSHOTS / f"{self.width_name}-{self.shots:02d}-{name}.png", full_page=True)


@pytest.mark.parametrize("width_name", list(WIDTHS))
async def test_the_customer_personalizes_in_a_browser(browser, bus, editor, width_name, tmp_path):
    width, height = WIDTHS[width_name]
    context = await browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=width_name == "mobile", has_touch=width_name == "mobile"
    )
    screen = Screen(await context.new_page(), width_name)
    page = screen.page
    token, event = await publish_link(bus, editor, buyer_text="Ada")
    await wait_known(editor.link(token))
    try:
        await page.goto(editor.link(token))
        await expect(page.get_by_role("heading", name="Personalize your order")).to_be_visible()
        preview = page.locator("[data-preview-text]")
        await expect(preview).to_have_text("Ada")
        assert await page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        await screen.shot("editor")

        await page.get_by_role("textbox", name="Name").fill("Grace")
        await expect(preview).to_have_text("Grace")  # the live preview follows the typing
        await page.get_by_role("radio", name="star").check()
        await expect(page.locator("[data-preview-clipart]")).to_have_text("★")
        await expect(page.locator("[data-draft-status]")).to_have_text("Draft saved.", timeout=10_000)
        await page.reload()
        await expect(page.get_by_role("textbox", name="Name")).to_have_value("Grace")  # the draft survived the reload
        await expect(page.get_by_role("radio", name="star")).to_be_checked()

        await page.get_by_label("Photo").set_input_files(
            {"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image at all"}
        )
        await page.get_by_role("button", name="Complete personalization").click()
        await expect(page.locator("#f1-photo-error")).to_contain_text("JPEG, PNG or WebP")
        await expect(page.get_by_role("textbox", name="Name")).to_have_value("Grace")  # input kept next to the error
        await screen.shot("errors")

        await page.get_by_label("Photo").set_input_files(
            {"name": "photo.png", "mimeType": "image/png", "buffer": png(320, 200, "orange")}
        )
        await expect(page.locator("[data-preview-image]")).to_have_attribute("href", re.compile(r"^blob:"))
        await screen.shot("filled")
        await page.get_by_role("button", name="Complete personalization").click()
        dialog = page.get_by_role("dialog", name="Thank you!")
        await expect(dialog).to_be_visible()
        await screen.shot("thanks")
        await dialog.get_by_role("button", name="Close").click()
        await expect(dialog).to_be_hidden()
        await screen.shot("done")

        await bus["recorder"].wait_for(
            event.order_key, lambda es: any(isinstance(e, PersonalizationCompleted) for e in es)
        )
        (completion,) = bus["recorder"].events(event.order_key, PersonalizationCompleted)
        assert completion.items[0].fields["name"] == "Grace" and completion.items[0].fields["motif"] == "star"
        assert completion.items[0].assets[0].media_type == "image/png"

        await page.goto(editor.link(token))
        await expect(page.get_by_text("already been personalized")).to_be_visible()
        await screen.shot("already")

        expired, _ = await publish_link(bus, editor, expires_in=timedelta(seconds=-1))
        await wait_known(editor.link(expired), status=410)
        await page.goto(editor.link(expired))
        await expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
        await screen.shot("expired")
    finally:
        await context.close()
    assert screen.errors == []
