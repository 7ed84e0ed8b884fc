"""The outbox's entries: an issued link, a queued reminder, an emailed reminder waiting for its event to go out.

Each is stored as one JSON object per entry id, under the field names the
notifier has always written, so a copy restarted during an upgrade reads what
the old one wrote (link entries from before `kind` or `delivery` existed, a
reminder kept by a status change without its `id`) and an old copy reads
these. The events inside an entry are JSON strings of their own, as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from schemas import LinkDelivery, PersonalizationLinkExpired, PersonalizationLinkIssued, PersonalizationReminderSent

StoredOutbox = tuple[tuple[str, str], ...]  # (entry id, JSON) as a store holds them, sorted by id


def _from_json(model: type[BaseModel]) -> BeforeValidator:
    return BeforeValidator(lambda value: model.model_validate_json(value) if isinstance(value, str | bytes) else value)


def _to_json(event: BaseModel) -> str:
    return event.model_dump_json()


_AS_JSON = PlainSerializer(_to_json, return_type=str)
IssuedJson = Annotated[PersonalizationLinkIssued, _from_json(PersonalizationLinkIssued), _AS_JSON]
ExpiredJson = Annotated[PersonalizationLinkExpired, _from_json(PersonalizationLinkExpired), _AS_JSON]
ReminderSentJson = Annotated[PersonalizationReminderSent, _from_json(PersonalizationReminderSent), _AS_JSON]


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True)  # unknown fields (a newer copy's) are ignored, not refused

    id: str
    sequence: int

    @property
    def position(self) -> tuple[int, int]:
        """Where it stands in the outbox: by link, a link before its reminders, reminders in order."""
        return self.sequence, 0


class LinkEntry(_Entry):
    """An issued link: its events out first (then `published`), then its email; then the entry and its token go."""

    kind: Literal["link"] = "link"
    link_id: str
    event: IssuedJson
    expired: ExpiredJson | None = None  # the link it replaces, when that one expired
    delivery: LinkDelivery | None = None  # None in entries written before deliveries existed
    published: bool = False

    @property
    def wanted(self) -> LinkDelivery:
        # Entries from before deliveries existed were the merchant's, in English: the default delivery.
        return self.delivery or LinkDelivery()


class _Reminder(_Entry):
    kind: Literal["reminder"] = "reminder"
    reminder: int  # its number among the link's reminders, from 1

    @property
    def position(self) -> tuple[int, int]:
        return self.sequence, self.reminder


class QueuedReminder(_Reminder):
    """A reminder due for the live link: the link itself rides along until the email is out."""

    link: IssuedJson
    delivery: LinkDelivery | None = None
    event: None = None

    @property
    def wanted(self) -> LinkDelivery:
        return self.delivery or LinkDelivery()

    def emailed(self, sent: PersonalizationReminderSent) -> EmailedReminder:
        """The entry once its email is out: its event only, the link (raw token) and delivery gone."""
        return EmailedReminder(id=self.id, sequence=self.sequence, reminder=self.reminder, event=sent)


class EmailedReminder(_Reminder):
    """A reminder whose email went out: it stays until its `PersonalizationReminderSent` is published."""

    event: ReminderSentJson


OutboxEntry = LinkEntry | QueuedReminder | EmailedReminder


def parse_entry(entry_id: str, stored: str | bytes) -> OutboxEntry:
    data: dict[str, Any] = {"id": entry_id, **json.loads(stored)}
    if data.get("kind") != "reminder":  # link entries from before reminders carry no kind
        return LinkEntry.model_validate(data)
    if data.get("event"):
        return EmailedReminder.model_validate(data)
    return QueuedReminder.model_validate(data)


def entry_json(entry: OutboxEntry) -> str:
    return entry.model_dump_json()


def oldest_first(entries: Iterable[OutboxEntry]) -> tuple[OutboxEntry, ...]:
    return tuple(sorted(entries, key=lambda entry: entry.position))
