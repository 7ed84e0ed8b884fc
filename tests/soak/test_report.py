"""The soak's final judgement on reminders, from evidence gathered while the stack still runs: an email goes out
before its event, so a reminder mailed while the evidence was read must not count as lost, and one never mailed
must."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka import ConsumerRecord

from schemas import PersonalizationReminderSent
from soak.evidence import Evidence
from soak.observe import Read
from soak.report import judge

LINK = "e115eb54-f93b-44ea-8559-f208ee6ad249"


def reminder_read(link_id: str) -> Read:
    event = PersonalizationReminderSent(
        order_key="squarespace:soak:1",
        link_id=link_id,
        sequence=3,
        store_id="soak",
        platform="squarespace",
        reminder=1,
        recipient="merchant",
        expires_at=datetime.now(UTC) + timedelta(minutes=1),
    )
    return Read(ConsumerRecord("personalization.link-activity", 0, 0, 0, 0, None, b"", None, 0, 0, []), event)


def evidence(reminder_emails: dict, later: set) -> Evidence:
    return Evidence(
        runs=[],
        store_prefixes=[],
        sandbox_ids={},
        seeded_ids={},
        core={},
        due=set(),
        notifier_status={},
        outbox={},
        fulfillment=[],
        received=[],
        links=[],
        later_link_ids=set(),
        activity=[reminder_read(LINK)],
        dead_letters=[],
        emails_by_link={},
        reminder_emails=reminder_emails,
        later_reminder_emails=later,
        other_emails=[],
        stray_link_emails=[],
        faults=[],
        exits=[],
        now=0.0,
        drained="settled",
    )


def reminder_failures(e: Evidence) -> list[str]:
    return [line for line in judge(e, "test").failures if "REMINDER" in line]


def test_a_reminder_event_with_its_email_passes():
    assert reminder_failures(evidence({(LINK, 1): ["a.eml"]}, {(LINK, 1)})) == []


def test_a_reminder_mailed_after_the_first_mailbox_scan_but_before_its_event_was_read_is_not_lost():
    assert reminder_failures(evidence({}, {(LINK, 1)})) == []


def test_a_reminder_event_whose_email_never_arrived_fails_the_soak():
    (failure,) = reminder_failures(evidence({}, set()))
    assert failure.startswith("REMINDER WITHOUT EMAIL") and "reminder 1" in failure


def test_two_emails_for_one_reminder_fail_the_soak():
    (failure,) = reminder_failures(evidence({(LINK, 1): ["a.eml", "b.eml"]}, {(LINK, 1)}))
    assert failure.startswith("DUPLICATE REMINDER")
