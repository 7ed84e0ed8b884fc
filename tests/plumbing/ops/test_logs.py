"""Logs: one JSON object per line, with the event's order_key and event_id; plain text for people."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from plumbing.logs import event_context, event_fields, json_formatter, resolve_format, setup_logging, text_formatter
from schemas import OrderStatusChanged, ResendLink
from tests.builders import MANUAL, order, plain
from tests.plumbing.ops.conftest import service_env, start
from tests.support import send, unique_id


async def test_core_writes_json_lines_that_name_the_order_and_event_they_concern(servers, bus, tmp_path):
    producer, recorder = bus["producer"], bus["recorder"]
    core = await start(["core"], service_env(servers), tmp_path / "core.log")
    try:
        # Given an order waiting for approval, when a link is asked for it, core ignores the command and says so.
        placed = order(MANUAL, [plain()])
        await send(producer, placed)
        await recorder.wait_for(placed.order_key, lambda es: any(isinstance(e, OrderStatusChanged) for e in es))
        resend = ResendLink(order_key=placed.order_key)
        # And an order of a store core does not know is parked until it does, with a warning.
        stranger = order(("etsy", "nobody"), [plain()], number=unique_id())
        await send(producer, resend, stranger)
        for _ in range(100):
            if any(line.get("event_id") == str(stranger.event_id) for line in core.json_lines()):
                break
            await asyncio.sleep(0.2)
    finally:
        assert (await asyncio.to_thread(core.terminate))[1] == 0, core.service.log_tail()

    lines = core.json_lines()  # every line parses, or this fails
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    about = {line.get("event_id"): line for line in lines if "event_id" in line}
    ignored = about[str(resend.event_id)]
    assert ignored["order_key"] == placed.order_key and ignored["level"] == "INFO"
    assert "ResendLink" in ignored["message"]
    parked = about[str(stranger.event_id)]
    assert parked["order_key"] == stranger.order_key and parked["level"] == "WARNING"
    assert "parked" in parked["message"]
    assert all(line["time"].endswith("Z") for line in lines)


def render(formatter: logging.Formatter, **extra: object) -> str:
    record = logging.LogRecord("core.handlers", logging.INFO, __file__, 1, "ignored %s", ("ResendLink",), None)
    record.__dict__.update(extra)
    return formatter.format(record)


class Event:
    order_key = "woocommerce:shop-manual:1001"
    event_id = "7b0c1f9e-0000-4000-8000-000000000001"


def test_a_line_about_no_event_claims_none():
    line = json.loads(render(json_formatter()))
    assert line["message"] == "ignored ResendLink" and line["logger"] == "core.handlers"
    assert "order_key" not in line and "event_id" not in line


def test_text_lines_append_the_event_for_people():
    assert render(text_formatter(), **event_fields(Event)).endswith(
        "INFO core.handlers ignored ResendLink [order_key=woocommerce:shop-manual:1001 "
        "event_id=7b0c1f9e-0000-4000-8000-000000000001]"
    )


def test_the_context_names_the_event_for_every_line_inside_it(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        setup_logging("INFO", "json")
        with event_context(Event):
            logging.getLogger("notifier.scheduler").info("emailed the link")
        logging.getLogger("notifier.scheduler").info("idle")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["order_key"] == Event.order_key and inside["event_id"] == Event.event_id
    assert "order_key" not in outside


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_format_is_json_unless_a_person_is_watching():
    assert resolve_format(None, io.StringIO()) == "json"
    assert resolve_format(None, Terminal()) == "text"
    assert resolve_format("TEXT", io.StringIO()) == "text"
    with pytest.raises(ValueError, match="PERSONALIZE_LOG_FORMAT"):
        resolve_format("yaml")
