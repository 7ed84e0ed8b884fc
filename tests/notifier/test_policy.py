"""The notifier's rules without a store: given an order's link state, when something arrives or its time comes, then."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from notifier import policy
from notifier.link_state import PP, LinkState, LiveLink, micros
from notifier.policy import (
    EndReminders,
    ExpiredLink,
    Forget,
    ForgetPlan,
    IssueLink,
    RequestPlan,
    SendReminder,
    StatusPlan,
    WaitUntil,
)
from notifier.reminders import reminder_times
from schemas import OrderStatus, PersonalizationLinkIssued, PersonalizationRequested
from tests.notifier.helpers import emailed_reminder, issued, link_entry, queued_reminder, request, status

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE, DAY = timedelta(minutes=1), timedelta(days=1)
TTL = 7 * DAY


def pending(wanted: PersonalizationRequested) -> LinkState:
    """The order as the store holds it once its request is in."""
    return LinkState(status=PP, status_at=micros(wanted.occurred_at), request=wanted)


def with_link(wanted: PersonalizationRequested, link: PersonalizationLinkIssued, *, reminded: int = 0) -> LinkState:
    """The order as the store holds it once `link` is issued, `reminded` of its reminders done."""
    remind_at = tuple(reminder_times(link.occurred_at, link.expires_at, wanted.delivery.reminders))
    live = LiveLink(link, wanted.delivery) if reminded < len(remind_at) else None
    return replace(
        pending(wanted),
        seq=link.sequence,
        expires=link.expires_at.timestamp(),
        link_id=link.link_id,
        remind_at=remind_at,
        reminded=reminded,
        live=live,
    )


# The first link


def test_the_first_link_waits_for_notify_after_then_is_issued_for_seven_days():
    wanted = request(15 * 60, at=T0)
    given = pending(wanted)
    assert policy.next_step(given, T0 + 5 * MINUTE, TTL) == WaitUntil(T0 + 15 * MINUTE)
    step = policy.next_step(given, T0 + 15 * MINUTE, TTL)
    assert step == IssueLink(wanted, 1, T0 + 15 * MINUTE, T0 + 15 * MINUTE + TTL, (), replaces=None)


def test_a_first_request_sets_the_timer_to_notify_after_unless_the_order_is_on_it_already():
    wanted = request(15 * 60, at=T0)
    plan = policy.on_request(LinkState(), wanted, T0)
    assert plan == RequestPlan(marks_pending=True, fresh_link=False, wake_at=T0 + 15 * MINUTE, keep_timer=True)


def test_the_links_reminders_fall_within_its_life():
    wanted = request(0, at=T0, reminders=[3 * DAY, 6 * DAY, 7 * DAY, 8 * DAY, timedelta(0)])
    step = policy.next_step(pending(wanted), T0, TTL)
    assert isinstance(step, IssueLink) and step.remind_at == ((T0 + 3 * DAY).timestamp(), (T0 + 6 * DAY).timestamp())


# Expiry


def test_an_unused_link_is_replaced_when_it_expires_after_seven_days():
    wanted = request(0, at=T0)
    link = issued(wanted, at=T0)
    given = with_link(wanted, link)
    assert policy.next_step(given, T0 + TTL - MINUTE, TTL) == WaitUntil(T0 + TTL)
    step = policy.next_step(given, T0 + TTL, TTL)
    assert step == IssueLink(wanted, 2, T0 + TTL, T0 + 2 * TTL, (), replaces=ExpiredLink(link.link_id, 1, T0 + TTL))


# Fresh links on request


def test_a_resend_wants_a_fresh_link_at_once_which_replaces_no_expired_one():
    wanted = request(0, at=T0)
    given = with_link(wanted, issued(wanted, at=T0))
    resend = request(0, number=wanted.order_number, trigger="resend_requested", at=T0 + DAY)
    plan = policy.on_request(given, resend, T0 + DAY)
    assert plan == RequestPlan(marks_pending=True, fresh_link=True, wake_at=T0 + DAY, keep_timer=False)
    forced = replace(given, request=resend, force=True)
    assert policy.next_step(forced, T0 + DAY, TTL) == IssueLink(resend, 2, T0 + DAY, T0 + DAY + TTL, (), None)


def test_a_resend_before_the_first_link_sends_it_without_waiting_for_notify_after():
    resend = request(15 * 60, at=T0, trigger="resend_requested")
    assert policy.on_request(LinkState(), resend, T0).fresh_link
    step = policy.next_step(replace(pending(resend), force=True), T0, TTL)
    assert isinstance(step, IssueLink) and step.sequence == 1 and step.issued_at == T0


@pytest.mark.parametrize(("links_sent", "fresh"), [(0, False), (1, True)])
def test_changed_items_want_a_fresh_link_only_once_a_link_went_out(links_sent, fresh):
    first = request(15 * 60, at=T0)
    given = with_link(first, issued(first, at=T0)) if links_sent else pending(first)
    change = request(15 * 60, number=first.order_number, trigger="items_changed", at=T0 + MINUTE)
    plan = policy.on_request(given, change, T0 + MINUTE)
    assert (plan.fresh_link, plan.keep_timer) == (fresh, not fresh)
    assert plan.wake_at == (T0 + MINUTE if fresh else change.notify_after)


def test_a_request_older_than_the_status_known_leaves_the_status_alone():
    wanted = request(0, at=T0)
    cancelled = LinkState(status=OrderStatus.CANCELLED.value, status_at=micros(T0 + MINUTE))
    assert not policy.on_request(cancelled, wanted, T0 + 2 * MINUTE).marks_pending


# Reminders


def test_reminders_go_at_the_stores_schedule_then_the_link_waits_for_its_expiry():
    wanted = request(0, at=T0, reminders=[3 * DAY, 6 * DAY])
    link = issued(wanted, at=T0)
    assert policy.next_step(with_link(wanted, link), T0 + DAY, TTL) == WaitUntil(T0 + 3 * DAY)
    first = policy.next_step(with_link(wanted, link), T0 + 3 * DAY, TTL)
    assert first == SendReminder(LiveLink(link, wanted.delivery), 1, last=False)
    assert policy.next_step(with_link(wanted, link, reminded=1), T0 + 4 * DAY, TTL) == WaitUntil(T0 + 6 * DAY)
    second = policy.next_step(with_link(wanted, link, reminded=1), T0 + 6 * DAY, TTL)
    assert isinstance(second, SendReminder) and (second.number, second.last) == (2, True)
    assert policy.next_step(with_link(wanted, link, reminded=2), T0 + 6 * DAY, TTL) == WaitUntil(T0 + TTL)


def test_after_an_outage_only_the_latest_overdue_reminder_goes():
    wanted = request(0, at=T0, reminders=[3 * DAY, 6 * DAY])
    step = policy.next_step(with_link(wanted, issued(wanted, at=T0)), T0 + 6 * DAY + MINUTE, TTL)
    assert isinstance(step, SendReminder) and (step.number, step.last) == (2, True)


def test_reminders_due_for_a_link_kept_without_its_live_copy_are_counted_done():
    wanted = request(0, at=T0, reminders=[3 * DAY, 6 * DAY])
    given = replace(with_link(wanted, issued(wanted, at=T0)), live=None)
    assert policy.next_step(given, T0 + 3 * DAY, TTL) == EndReminders(2)


@pytest.mark.parametrize("status", [OrderStatus.PENDING_APPROVAL, OrderStatus.IN_FULFILLMENT, OrderStatus.CANCELLED])
def test_no_reminder_and_no_link_once_the_order_is_completed_or_cancelled(status):
    wanted = request(0, at=T0, reminders=[3 * DAY])
    given = replace(with_link(wanted, issued(wanted, at=T0)), status=status.value)
    assert policy.next_step(given, T0 + 3 * DAY, TTL) == Forget()
    assert policy.next_step(given, T0 + TTL, TTL) == Forget()


def test_an_order_pending_without_a_request_is_forgotten():
    assert policy.next_step(LinkState(status=PP), T0, TTL) == Forget()


def test_a_queued_reminder_of_a_replaced_expired_or_unwanted_link_is_dropped_unsent():
    wanted = request(0, at=T0, reminders=[3 * DAY])
    first = issued(wanted, at=T0)
    reminder = queued_reminder(first)
    current = with_link(wanted, first)
    assert not policy.reminder_outdated(reminder, current, T0 + 3 * DAY)
    replaced = with_link(wanted, issued(wanted, sequence=2, at=T0 + DAY))
    assert policy.reminder_outdated(reminder, replaced, T0 + 3 * DAY)
    assert policy.reminder_outdated(reminder, replace(current, force=True), T0 + 3 * DAY)
    assert policy.reminder_outdated(reminder, current, T0 + TTL)


# Status changes


def test_leaving_pending_personalization_forgets_all_but_the_emailed_reminders_events():
    wanted = request(0, at=T0, reminders=[3 * DAY, 6 * DAY])
    link = issued(wanted, at=T0)
    emailed = emailed_reminder(link, 1)
    outbox = (link_entry(link), emailed, queued_reminder(link, 2))
    given = replace(with_link(wanted, link), outbox=outbox)
    plan = policy.on_status(given, status(wanted.order_key, OrderStatus.PENDING_APPROVAL, at=T0 + 6 * DAY))
    expected = ForgetPlan(keep=(emailed,), drop=(link.link_id, f"{link.link_id}:reminder-2"))
    assert plan == StatusPlan(stale=False, forget=expected) and expected.stays_due


def test_forgetting_an_order_with_nothing_emailed_takes_it_off_the_timer():
    wanted = request(0, at=T0)
    link = issued(wanted, at=T0)
    plan = policy.forget(replace(with_link(wanted, link), outbox=(link_entry(link),)))
    assert plan == ForgetPlan(keep=(), drop=(link.link_id,)) and not plan.stays_due


def test_a_status_change_older_than_the_status_known_is_stale():
    wanted = request(0, at=T0 + MINUTE)
    plan = policy.on_status(pending(wanted), status(wanted.order_key, OrderStatus.CANCELLED, at=T0))
    assert plan == StatusPlan(stale=True, forget=None)


def test_a_status_change_into_pending_personalization_forgets_nothing():
    wanted = request(0, at=T0)
    plan = policy.on_status(pending(wanted), status(wanted.order_key, OrderStatus.PENDING_PERSONALIZATION, at=T0))
    assert plan == StatusPlan(stale=False, forget=None)
