"""One contract for the link store: the in-memory twin (fast lane) and Redis (integration).

Every write is a compare-and-set on what its decision read: refused whole
when the order moved, applied whole otherwise, a redelivered event a no-op.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from notifier import policy
from notifier.entries import EmailedReminder, QueuedReminder
from notifier.link_state import PP, LinkState, LiveLink, micros
from notifier.memory_store import MemoryLinkStore
from notifier.redis_store import RedisLinkStore
from notifier.store import LinkStore, NewLink, Recorded
from schemas import OrderStatus, PersonalizationLinkIssued, PersonalizationRequested
from tests.notifier.helpers import emailed_reminder, held, issued, link_entry, queued_reminder, request, status

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def new_link(link: PersonalizationLinkIssued, *reminders: float) -> NewLink:
    live = LiveLink(link, link_entry(link).wanted) if reminders else None
    return NewLink(link_entry(link), f"sha-{link.link_id}", link.expires_at, reminders, live)


async def requested(store: LinkStore, wanted: PersonalizationRequested, now: datetime = T0) -> Recorded:
    read = await store.state(wanted.order_key)
    return await store.record_request(wanted, read, policy.on_request(read, wanted, now))


async def with_link(store: LinkStore, *reminders: float) -> tuple[PersonalizationRequested, PersonalizationLinkIssued]:
    wanted = request(0, at=T0)
    link = issued(wanted, at=T0)
    await requested(store, wanted)
    assert await store.issue(
        wanted.order_key, 0, new_link(link, *reminders), fence=await held(store, wanted.order_key, T0)
    )
    return wanted, link


async def with_reminders(store: LinkStore) -> tuple[str, PersonalizationLinkIssued, EmailedReminder, QueuedReminder]:
    """An order with its link entry, reminder 1 emailed, reminder 2 queued."""
    wanted, link = await with_link(store, (T0 + DAY).timestamp(), (T0 + 2 * DAY).timestamp())
    key, first, second = wanted.order_key, emailed_reminder(link, 1), queued_reminder(link, 2)
    await store.emailed(key, first, T0 + DAY)
    assert await store.remind(key, 1, 0, 2, True, second, fence=await held(store, key, T0))
    return key, link, first, second


class LinkStoreContract:
    @pytest.fixture
    def store(self) -> LinkStore:
        raise NotImplementedError

    async def test_an_unknown_order_is_an_empty_state_off_the_timer(self, store: LinkStore) -> None:
        assert await store.state("woocommerce:shop-manual:nobody") == LinkState()
        assert await store.timers.due_at("woocommerce:shop-manual:nobody") is None

    async def test_a_request_makes_the_order_pending_and_due_and_a_redelivery_changes_nothing(
        self, store: LinkStore
    ) -> None:
        wanted = request(15 * 60, at=T0)
        assert await requested(store, wanted) is Recorded.RECORDED
        state = await store.state(wanted.order_key)
        assert (state.status, state.status_at, state.request, state.force) == (PP, micros(T0), wanted, False)
        assert await store.timers.due_at(wanted.order_key) == wanted.notify_after
        assert await requested(store, wanted, T0 + DAY) is Recorded.DUPLICATE

    async def test_a_repeat_keeps_the_timer_and_a_fresh_link_moves_it_to_now(self, store: LinkStore) -> None:
        wanted, _ = await with_link(store)
        key = wanted.order_key
        await store.timers.schedule(key, T0 + 3 * DAY)
        again = request(0, number=wanted.order_number, at=T0 + DAY)
        assert await requested(store, again, T0 + DAY) is Recorded.RECORDED
        assert await store.timers.due_at(key) == T0 + 3 * DAY
        resend = request(0, number=wanted.order_number, trigger="resend_requested", at=T0 + DAY)
        assert await requested(store, resend, T0 + DAY) is Recorded.RECORDED
        assert (await store.state(key)).force and await store.timers.due_at(key) == T0 + DAY

    async def test_a_request_decided_before_a_link_was_issued_is_refused_whole(self, store: LinkStore) -> None:
        wanted = request(0, at=T0)
        key = wanted.order_key
        await requested(store, wanted)
        before = await store.state(key)
        assert await store.issue(key, 0, new_link(issued(wanted, at=T0)), fence=await held(store, key, T0))
        change = request(0, number=wanted.order_number, trigger="items_changed", at=T0 + DAY)
        stale_plan = policy.on_request(before, change, T0 + DAY)  # no link yet: no fresh one
        assert await store.record_request(change, before, stale_plan) is Recorded.CONFLICT
        assert (await store.state(key)).request == wanted
        assert await requested(store, change, T0 + DAY) is Recorded.RECORDED  # not remembered as seen
        assert (await store.state(key)).force

    async def test_an_issued_link_is_recorded_once_per_sequence(self, store: LinkStore) -> None:
        wanted, link = await with_link(store, (T0 + DAY).timestamp())
        key = wanted.order_key
        state = await store.state(key)
        assert (state.seq, state.expires, state.link_id, state.force) == (
            1,
            link.expires_at.timestamp(),
            link.link_id,
            False,
        )
        assert (state.remind_at, state.reminded, state.live) == (
            ((T0 + DAY).timestamp(),),
            0,
            LiveLink(link, link_entry(link).wanted),
        )
        assert state.outbox == (link_entry(link),)
        assert not await store.issue(
            key, 0, new_link(issued(wanted, at=T0)), fence=await held(store, key, T0)
        )  # another copy's link 1
        assert await store.issue(
            key, 1, new_link(issued(wanted, sequence=2, at=T0 + DAY)), fence=await held(store, key, T0)
        )
        assert (await store.state(key)).live is None  # link 2 has no reminders

    async def test_a_copy_whose_claim_was_taken_over_can_neither_issue_nor_remind_nor_flag(
        self, store: LinkStore
    ) -> None:
        wanted, link = await with_link(store, (T0 + DAY).timestamp())
        key = wanted.order_key
        stale = await held(store, key, T0)
        fresh = await store.timers.take(key, T0 + 2 * DAY, 60.0, "copy-b")  # the stale copy's lease ran out
        assert fresh is not None
        published = link_entry(link).model_copy(update={"published": True})
        assert not await store.update_outbox(key, published, fence=stale)
        assert not await store.remind(key, 1, 0, 1, True, queued_reminder(link, 1), fence=stale)
        assert not await store.issue(key, 1, new_link(issued(wanted, sequence=2, at=T0 + DAY)), fence=stale)
        state = await store.state(key)
        assert (state.seq, state.reminded, state.outbox) == (1, 0, (link_entry(link),))  # nothing written
        assert await store.update_outbox(key, published, fence=fresh.fence)  # the holder's own write goes through

    async def test_no_link_is_issued_for_an_order_no_longer_pending(self, store: LinkStore) -> None:
        wanted = request(0, at=T0)
        await requested(store, wanted)
        read = await store.state(wanted.order_key)
        cancel = status(wanted.order_key, OrderStatus.CANCELLED, at=T0 + DAY)
        await store.record_status(cancel, read, policy.on_status(read, cancel), T0 + DAY)
        assert not await store.issue(
            wanted.order_key, 0, new_link(issued(wanted, at=T0)), fence=await held(store, wanted.order_key, T0)
        )

    async def test_reminders_are_counted_once_and_the_last_drops_the_live_link(self, store: LinkStore) -> None:
        wanted, link = await with_link(store, (T0 + DAY).timestamp(), (T0 + 2 * DAY).timestamp())
        key = wanted.order_key
        assert await store.remind(key, 1, 0, 1, False, queued_reminder(link, 1), fence=await held(store, key, T0))
        assert not await store.remind(
            key, 1, 0, 1, False, queued_reminder(link, 1), fence=await held(store, key, T0)
        )  # another copy's
        assert not await store.remind(
            key, 2, 1, 2, True, None, fence=await held(store, key, T0)
        )  # not the live link's sequence
        assert await store.remind(key, 1, 1, 2, True, None, fence=await held(store, key, T0))
        state = await store.state(key)
        assert (state.reminded, state.live) == (2, None)
        assert state.outbox == (link_entry(link), queued_reminder(link, 1))

    async def test_an_entry_is_rewritten_only_while_it_is_there(self, store: LinkStore) -> None:
        wanted, link = await with_link(store)
        key, published = wanted.order_key, link_entry(link).model_copy(update={"published": True})
        assert await store.update_outbox(key, published, fence=await held(store, key, T0))
        assert (await store.state(key)).outbox == (published,)
        await store.sent(key, link.link_id)
        assert not await store.update_outbox(key, published, fence=await held(store, key, T0))
        assert (await store.state(key)).outbox == ()

    async def test_sent_ends_the_entry_and_the_smtp_failure_count(self, store: LinkStore) -> None:
        wanted, link = await with_link(store)
        key = wanted.order_key
        assert [await store.mail_failed(key), await store.mail_failed(key)] == [1, 2]
        await store.sent(key, link.link_id)
        state = await store.state(key)
        assert (state.outbox, state.smtp_failures) == ((), 0)

    async def test_an_emailed_reminder_is_stored_even_after_its_order_was_forgotten(self, store: LinkStore) -> None:
        wanted, link = await with_link(store)
        key = wanted.order_key
        read = await store.state(key)
        assert await store.forget(key, read, policy.forget(read), T0 + DAY)
        assert await store.timers.due_at(key) is None
        emailed = emailed_reminder(link)
        await store.emailed(key, emailed, T0 + 2 * DAY)
        assert (await store.state(key)).outbox == (emailed,)
        assert await store.timers.due_at(key) == T0 + 2 * DAY

    async def test_leaving_pending_personalization_keeps_only_emailed_events(self, store: LinkStore) -> None:
        key, link, first, _ = await with_reminders(store)
        read = await store.state(key)
        done = status(key, OrderStatus.PENDING_APPROVAL, at=T0 + DAY)
        assert await store.record_status(done, read, policy.on_status(read, done), T0 + DAY) is Recorded.RECORDED
        state = await store.state(key)
        assert (state.status, state.status_at, state.live, state.outbox) == (
            "pending_approval",
            micros(done.occurred_at),
            None,
            (first,),
        )
        assert link.url not in str(state.outbox_as_stored)  # the event stays, the raw token is gone
        assert await store.timers.due_at(key) is not None  # still due, so its event gets published
        again = await store.state(key)
        assert await store.record_status(done, again, policy.on_status(again, done), T0) is Recorded.DUPLICATE

    async def test_forgetting_with_nothing_emailed_takes_the_order_off_the_timer(self, store: LinkStore) -> None:
        wanted, _ = await with_link(store)
        key = wanted.order_key
        read = await store.state(key)
        cancel = status(key, OrderStatus.CANCELLED, at=T0 + DAY)
        assert await store.record_status(cancel, read, policy.on_status(read, cancel), T0 + DAY) is Recorded.RECORDED
        assert (await store.state(key)).outbox == () and await store.timers.due_at(key) is None

    async def test_a_status_change_decided_before_an_email_went_out_is_refused_whole(self, store: LinkStore) -> None:
        key, link, _, second = await with_reminders(store)
        read = await store.state(key)
        cancel = status(key, OrderStatus.CANCELLED, at=T0 + DAY)
        plan = policy.on_status(read, cancel)
        await store.emailed(key, emailed_reminder(link, 2), T0 + 2 * DAY)  # while the decision was made
        assert await store.record_status(cancel, read, plan, T0 + 2 * DAY) is Recorded.CONFLICT
        assert (await store.state(key)).status == PP
        assert not await store.forget(key, read, policy.forget(read), T0 + 2 * DAY)
        assert second.id in dict((await store.state(key)).outbox_as_stored)

    async def test_a_stale_status_change_is_remembered_and_changes_nothing(self, store: LinkStore) -> None:
        wanted, _ = await with_link(store)
        key = wanted.order_key
        read = await store.state(key)
        old = status(key, OrderStatus.CANCELLED, at=T0 - DAY)
        assert await store.record_status(old, read, policy.on_status(read, old), T0) is Recorded.STALE
        assert await store.state(key) == read
        assert await store.record_status(old, read, policy.on_status(read, old), T0) is Recorded.DUPLICATE

    async def test_a_status_change_decided_on_an_older_status_is_refused(self, store: LinkStore) -> None:
        wanted, _ = await with_link(store)
        key = wanted.order_key
        read = await store.state(key)
        moved = replace(read, status_at=micros(T0 - DAY))
        cancel = status(key, OrderStatus.CANCELLED, at=T0 + DAY)
        assert await store.record_status(cancel, moved, policy.on_status(moved, cancel), T0) is Recorded.CONFLICT
        assert (await store.state(key)).status == PP


class TestMemoryLinkStore(LinkStoreContract):
    @pytest.fixture
    def store(self) -> LinkStore:
        return MemoryLinkStore()


class TestRedisLinkStore(LinkStoreContract):
    @pytest.fixture
    def store(self, store_redis: Redis) -> LinkStore:
        return RedisLinkStore(store_redis)
