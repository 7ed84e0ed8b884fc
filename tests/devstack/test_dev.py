"""`personalize dev` as a newcomer meets it: everything starts, the demo orders flow, the mailbox page
lists the emails, and the emailed link opens the editor. Then Ctrl-C stops it all with exit 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration  # starts its own broker, Redis, mail catcher and every service

MAILBOX = "http://127.0.0.1:8025"
PLATFORMS = ("woocommerce", "etsy", "wix", "squarespace", "bigcommerce")


def eventually(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
            if found:
                return found
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout} s")
        time.sleep(0.5)


def test_dev_serves_the_mailbox_and_the_emailed_link_opens_the_editor(tmp_path: Path):
    env = {
        **os.environ,
        **dict.fromkeys(("PERSONALIZE_KAFKA_BOOTSTRAP", "PERSONALIZE_REDIS_URL", "PERSONALIZE_SMTP_URL"), ""),
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "PERSONALIZE_LINK_DELAY": "2s",
    }
    dev = subprocess.Popen(
        [sys.executable, "-m", "personalize", "dev", "--state", str(tmp_path / "state"), "--exit-after", "110"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        listing = eventually(lambda: _listing_with(len(PLATFORMS)), 90, "five emails in the mailbox")
        first = httpx.get(f"{MAILBOX}/1", timeout=5)
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/html")
        assert httpx.get(f"{MAILBOX}/1/text", timeout=5).status_code == 200
        # A link in an `href`, or in the text the merchant pastes into the platform's messages (Etsy's email).
        link = re.search(r"(http://127\.0\.0\.1:8600/p/[A-Za-z0-9_\-]+)", first.text)
        assert link, first.text
        # The editor learns the link from its topic, which may trail the email by a moment: 404 until then.
        page = eventually(lambda: _known(link.group(1)), 20, "editor page for the emailed link")
        assert page.status_code == 200 and "<form" in page.text  # the customer's personalization page
        assert listing.count("<li>") == len(PLATFORMS)
        # The ops routes are on each service's ops port, not on the editor's or the API's public one.
        assert httpx.get("http://127.0.0.1:8600/metrics", timeout=5).status_code == 404
        assert httpx.get("http://127.0.0.1:8700/health", timeout=5).status_code == 404
    finally:
        dev.send_signal(signal.SIGINT)
        out, err = dev.communicate(timeout=60)
    assert dev.returncode == 0, out + err
    assert "personalize dev is up" in out and "dev: stopped" in out
    assert "merchant API http://127.0.0.1:8700" in out and "Authorization: Bearer pz_" in out
    ops = next(line for line in out.splitlines() if line.lstrip().startswith("ops "))
    assert all(f"{name} http://127.0.0.1:" in ops for name in ("core", "notifier", "editor", "api", "connector wix"))
    for platform in PLATFORMS:
        assert f"OrderReceived              {platform}:" in out
    assert "∅ → pending_personalization" in out and "PersonalizationLinkIssued" in out
    assert len(list((tmp_path / "state" / "mail").glob("*.eml"))) >= len(PLATFORMS)


def _known(url: str) -> httpx.Response | None:
    page = httpx.get(url, timeout=10)
    return page if page.status_code != 404 else None


def _listing_with(count: int) -> str | None:
    page = httpx.get(f"{MAILBOX}/", timeout=5)
    return page.text if page.status_code == 200 and f"Mailbox ({count})" in page.text else None
