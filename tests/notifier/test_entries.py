"""Outbox entries as typed models that read what older notifier copies wrote, and write what they read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from notifier.entries import (
    EmailedReminder,
    LinkEntry,
    OutboxEntry,
    QueuedReminder,
    entry_json,
    oldest_first,
    parse_entry,
)
from schemas import LinkDelivery
from tests.notifier.helpers import emailed_reminder, issued, link_entry, queued_reminder, request

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WANTED = request(0, at=T0)
LINK = issued(WANTED, at=T0)
SENT = emailed_reminder(LINK).event
DELIVERY = LinkDelivery(locale="de", reminders=[])

# Entries as the notifier wrote them before they were typed (the Lua kept a forgotten order's reminder without id).
OLD = {
    "link": {
        "kind": "link",
        "link_id": LINK.link_id,
        "sequence": 1,
        "event": LINK.model_dump_json(),
        "expired": None,
        "delivery": DELIVERY.model_dump(mode="json"),
        "published": True,
    },
    "link before deliveries": {
        "link_id": LINK.link_id,
        "sequence": 1,
        "event": LINK.model_dump_json(),
        "expired": None,
        "published": False,
    },
    "queued reminder": {
        "id": "r",
        "kind": "reminder",
        "sequence": 1,
        "reminder": 2,
        "link": LINK.model_dump_json(),
        "delivery": DELIVERY.model_dump(mode="json"),
        "event": None,
    },
    "emailed reminder": {"id": "r", "kind": "reminder", "sequence": 1, "reminder": 2, "event": SENT.model_dump_json()},
    "reminder kept by a status change": {
        "kind": "reminder",
        "sequence": 1,
        "reminder": 2,
        "event": SENT.model_dump_json(),
    },
}


def test_an_old_link_entry_reads_with_its_events_and_delivery():
    entry = parse_entry(LINK.link_id, json.dumps(OLD["link"]))
    assert isinstance(entry, LinkEntry) and entry.event == LINK and entry.published and entry.wanted == DELIVERY


def test_a_link_entry_from_before_deliveries_is_the_merchants_in_english():
    entry = parse_entry(LINK.link_id, json.dumps(OLD["link before deliveries"]))
    assert isinstance(entry, LinkEntry) and entry.delivery is None and entry.wanted == LinkDelivery()
    assert entry.id == LINK.link_id and not entry.published


def test_old_reminder_entries_read_as_queued_or_emailed():
    queued = parse_entry("r", json.dumps(OLD["queued reminder"]))
    assert isinstance(queued, QueuedReminder) and queued.link == LINK and queued.wanted == DELIVERY
    for shape in ("emailed reminder", "reminder kept by a status change"):
        emailed = parse_entry("r", json.dumps(OLD[shape]))
        assert isinstance(emailed, EmailedReminder) and (emailed.id, emailed.reminder, emailed.event) == ("r", 2, SENT)


@pytest.mark.parametrize("shape", list(OLD))
def test_an_entry_written_again_keeps_every_field_an_old_copy_reads(shape):
    old = OLD[shape]
    entry = parse_entry("r" if "reminder" in shape else LINK.link_id, json.dumps(old))
    written = json.loads(entry_json(entry))
    assert {name for name, value in old.items() if value is not None} <= set(written)
    assert {name: written[name] for name in old if old[name] is not None} == {
        name: value for name, value in old.items() if value is not None
    }


def test_an_emailed_reminder_holds_its_event_and_no_token():
    emailed = queued_reminder(LINK).emailed(SENT)
    assert LINK.url not in entry_json(emailed) and parse_entry(emailed.id, entry_json(emailed)) == emailed


def test_entries_come_oldest_first_a_link_before_its_reminders():
    second = issued(WANTED, sequence=2, at=T0)
    entries: list[OutboxEntry] = [
        queued_reminder(second, 1),
        emailed_reminder(LINK, 2),
        link_entry(second),
        queued_reminder(LINK, 1),
    ]
    assert [entry.position for entry in oldest_first(entries)] == [(1, 1), (1, 2), (2, 0), (2, 1)]
