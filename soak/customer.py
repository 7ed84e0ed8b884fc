"""The scripted customer: reads the merchant's emails, opens each link and completes it over HTTP.

It does what a browser does with the editor's form (`editor_service/templates/
editor.html.j2`): GET `/p/<token>`, read the hidden `csrf` input and every field,
POST them as multipart with `action=complete`. It is patient, as a person
would be: a link the editor does not know yet (404: its consumer is behind),
a 5xx, a refused connection or a timeout is retried until the link expires;
an expired link waits for the next email. "Already personalized" after a
retried POST counts as done: the first POST's claim went through.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import logging
import os
import random
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
from PIL import Image

from soak.ledger import OrderRun
from soak.observe import Link, LinkBook

log = logging.getLogger("soak")

MESSAGE_ID = re.compile(r"<([0-9a-f-]{36})@personalize>")
REMINDER_ID = re.compile(r"<([0-9a-f-]{36})\.reminder-(\d+)@personalize>")
RECHECK_S = 10.0
GIVE_UP_AFTER_EXPIRY_S = 60.0


class Mailbox:
    """Every `.eml` in the catcher's folder, parsed once, sorted by Message-ID: the notifier's are
    `<link_id@personalize>` for a link and `<link_id.reminder-N@personalize>` for its N-th reminder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.by_link: dict[str, list[str]] = {}  # link id → file names
        self.reminders: dict[tuple[str, int], list[str]] = {}  # (link id, reminder) → file names
        self.others: list[tuple[str, str]] = []  # (file, Message-ID): anything else
        self._read: set[str] = set()

    def scan(self) -> list[str]:
        """Read new files; return the link ids of new link emails, in arrival order."""
        new = []
        fresh = [self.folder / n for n in os.listdir(self.folder) if n.endswith(".eml") and n not in self._read]
        for path in sorted(fresh, key=lambda p: p.stat().st_mtime_ns):
            self._read.add(path.name)
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            message_id = (message.get("Message-ID") or "").strip()
            if found := MESSAGE_ID.fullmatch(message_id):
                self.by_link.setdefault(found.group(1), []).append(path.name)
                new.append(found.group(1))
            elif found := REMINDER_ID.fullmatch(message_id):
                self.reminders.setdefault((found.group(1), int(found.group(2))), []).append(path.name)
            else:
                self.others.append((path.name, message_id))
        return new

    def count(self) -> int:
        return len(self._read)


class Customer:
    def __init__(
        self, mailbox: Mailbox, links: LinkBook, runs: list[OrderRun], http: httpx.AsyncClient, seed: int
    ) -> None:
        self._mailbox, self._links, self._runs, self._http = mailbox, links, runs, http
        self._by_key: dict[str, OrderRun] = {}
        self._rng = random.Random(seed)
        self._waiting: list[str] = []  # link ids emailed but not yet in the link book
        self._tasks: dict[str, asyncio.Task] = {}
        self._png = _png()
        self.stray: list[str] = []  # link emails for orders the soak did not place

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._waiting += self._mailbox.scan()
            self._waiting = [link_id for link_id in self._waiting if not self._deliver(link_id)]
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except TimeoutError:
                pass
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _deliver(self, link_id: str) -> bool:
        link = self._links.links.get(link_id)
        if link is None:
            return False  # the email came before we read the event: look again later
        if link.order_key not in self._by_key:  # orders are placed as the soak goes: index them again
            self._by_key = {r.key: r for r in self._runs if r.placed}
        run = self._by_key.get(link.order_key)
        if run is None:
            self.stray.append(link_id)
            return True
        run.emailed[link_id] = link
        run.new_email.set()
        if run.plan.customer in ("complete", "reissue") and link.order_key not in self._tasks:
            delay = self._rng.uniform(0.5, 4.0)
            self._tasks[link.order_key] = asyncio.create_task(self._personalize(run, delay))
        return True

    async def _personalize(self, run: OrderRun, delay: float) -> None:
        await asyncio.sleep(delay)
        tried: set[str] = set()
        posted = False
        try:
            while True:
                link = run.newest_link()
                if link is None or link.link_id in tried:
                    run.new_email.clear()
                    try:
                        await asyncio.wait_for(run.new_email.wait(), RECHECK_S)
                    except TimeoutError:
                        # A POST whose answer was lost (the editor died) may have gone through: no new link
                        # comes once the order moved on, so look at the old one again, as a person would.
                        if posted and link is not None and await self._look(link) == "already":
                            run.completed = True
                            return
                    continue
                tried.add(link.link_id)
                if run.plan.customer == "reissue" and link.sequence < 2:
                    continue  # leaves the first link to expire: the notifier must issue the next
                posted = True
                outcome = await self._complete(link)
                if outcome in ("done", "already"):
                    run.completed = True
                    return
                if outcome != "expired":
                    run.customer_notes.append(f"link {link.sequence}: {outcome}")
                    return
        finally:
            run.customer_done = True

    async def _look(self, link: Link) -> str:
        try:
            return _state(await self._http.get(link.url, timeout=30))
        except httpx.HTTPError:
            return "retry"

    async def _complete(self, link: Link) -> str:
        """done | already | expired | closed | refused: <why>; retries what a person would retry."""
        while True:
            try:
                page = await self._http.get(link.url, timeout=30)
                outcome = _state(page)
                if outcome == "form":
                    page = await self._http.post(
                        link.url, data=self._fill(page.text), files=self._files(page.text), timeout=30
                    )
                    outcome = _state(page)
                    if outcome == "form":
                        return f"refused: {page.status_code} {_errors(page.text)}"
                if outcome in ("done", "already", "expired", "closed"):
                    return outcome
            except httpx.HTTPError:
                pass  # the editor is down or slow (a fault): try again
            if time.time() > link.expires_at.timestamp() + GIVE_UP_AFTER_EXPIRY_S:
                return "expired"  # the editor never answered while the link lived
            await asyncio.sleep(self._rng.uniform(0.5, 2.0))

    def _fill(self, html: str) -> dict[str, str]:
        form = _Form()
        form.feed(html)
        data = {"csrf": form.hidden.get("csrf", ""), "action": "complete"}
        for name, (value, max_length) in form.texts.items():
            data[name] = value or f"Soak {self._rng.randint(1, 999)}"[: max_length or 20]
        for name, choices in form.radios.items():
            data[name] = self._rng.choice([c for c in choices if c] or [""])
        return data

    def _files(self, html: str) -> dict[str, tuple[str, bytes, str]]:
        form = _Form()
        form.feed(html)
        return {
            name: ("photo.png", self._png, "image/png")
            for name, required in form.files.items()
            if required or self._rng.random() < 0.3
        }


def _state(page: httpx.Response) -> str:
    text = page.text
    if page.status_code == 200 and 'name="csrf"' in text:
        return "form"
    if page.status_code == 422:
        return "form"
    if "Personalization complete" in text:
        return "done"
    if "already been personalized" in text:
        return "already"
    if page.status_code == 410:
        return "expired" if "has expired" in text else "closed"
    return "retry"  # 404 (not known yet), 403 (form token), 429, 5xx: try again


def _errors(html: str) -> str:
    return "; ".join(re.findall(r'<p class="error"[^>]*>([^<]*)</p>', html))[:300]


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.texts: dict[str, tuple[str, int | None]] = {}
        self.radios: dict[str, list[str]] = {}
        self.files: dict[str, bool] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "input":
            return
        a = dict(attrs)
        name, kind = a.get("name") or "", a.get("type") or "text"
        if kind == "hidden":
            self.hidden[name] = a.get("value") or ""
        elif kind == "text":
            self.texts[name] = (a.get("value") or "", int(most) if (most := a.get("maxlength")) else None)
        elif kind == "radio":
            self.radios.setdefault(name, []).append(a.get("value") or "")
        elif kind == "file":
            self.files[name] = "required" in a


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 90)).save(out, "PNG")
    return out.getvalue()
