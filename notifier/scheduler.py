"""The durable wait: when an order's time comes, make sure it has a live link, its reminders, and their emails.

One idempotent action per due order, safe to repeat after a crash and safe
with many notifier copies; what to do is `notifier/policy.py`'s `next_step`:
1. the order left `pending_personalization` → publish the events of emails
   that already went out (a reminder's), then forget it: no more email;
2. finish what the outbox holds (`notifier/outbox.py`);
3. no link yet, the last one expired, or a fresh one was asked for → issue
   the next link (compare-and-set on its sequence, so two copies never both
   issue link N; an expired one gets its `PersonalizationLinkExpired`);
   else a reminder due → queue it (compare-and-set on the count sent);
   then finish it as in 2;
4. come back at the next reminder, or when the live link expires.

Each due order is held by one copy under a fenced claim (`notifier/leases.py`):
a copy claims no more orders than it has free slots, each acted on at once,
renews its claims while it works, and stops, sending nothing more, once its
fence fails (another copy claimed the order after its lease ran out).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from notifier import policy
from notifier.entries import LinkEntry, QueuedReminder
from notifier.intake import forget
from notifier.leases import ClaimLost, Lease, Leases
from notifier.link_state import LinkState, LiveLink
from notifier.outbox import Outbox
from notifier.policy import EndReminders, ExpiredLink, Forget, IssueLink, SendReminder, WaitUntil
from notifier.recipients import addressee
from notifier.set_aside import SetAside, is_transient, set_aside
from notifier.slots import Slots
from notifier.store import LinkStore, NewLink
from plumbing.links import link_url, new_token, token_hash
from plumbing.logs import event_context
from schemas import PersonalizationLinkExpired, PersonalizationLinkIssued, PersonalizationRequested

log = logging.getLogger(__name__)

LEASE_S = 60.0
# Orders acted on at once by one copy, and so claimed at most at once: each claimed order starts at once.
CONCURRENCY = 16


class LinkScheduler:
    def __init__(
        self,
        store: LinkStore,
        outbox: Outbox,
        *,
        public_url: str,
        link_ttl: timedelta,
        clock: Callable[[], datetime],
        set_aside: SetAside,
        tick_s: float = 0.25,
        lease_s: float = LEASE_S,
        concurrency: int = CONCURRENCY,
        owner: str | None = None,
    ) -> None:
        self._store, self._outbox, self._set_aside = store, outbox, set_aside
        self._public_url, self._ttl = public_url, link_ttl
        self._clock, self._tick = clock, tick_s
        self._concurrency = concurrency
        self.leases = Leases(store.timers, lease_s, clock, owner)
        self._slots = Slots(concurrency)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim as many due orders as there are free slots, each acted on at once; renew the claims meanwhile."""
        done = asyncio.Event()  # not `stop`: the claims of actions still finishing at shutdown are renewed too
        heartbeat = asyncio.create_task(self.leases.keep_alive(done))
        try:
            while not stop.is_set():
                started = 0
                try:
                    started = self._start(await self.leases.claim(self._slots.free))
                except Exception:  # Redis away: the claims come due again
                    log.exception("scheduler pass failed; retrying")
                    await asyncio.sleep(1.0)
                if not started:
                    await self._slots.pause(stop, self._tick)
        finally:
            await self._slots.drain()
            done.set()
            await heartbeat

    def _start(self, leases: list[Lease]) -> int:
        for lease in leases:
            self._slots.start(self._guarded(lease))
        return len(leases)

    async def tick(self) -> list[str]:
        """One pass, waited for: the orders due now (as many as the slots), each acted on by itself."""
        leases = await self.leases.claim(self._concurrency)
        await asyncio.gather(*(self._guarded(lease) for lease in leases))
        return [lease.member for lease in leases]

    async def _guarded(self, lease: Lease) -> None:
        """One order's action, isolated: whatever it raises, the pass goes on with the others."""
        order_key = lease.member
        with event_context(order_key=order_key):  # every line of this action names the order
            try:
                await self._act(order_key, lease)
            except ClaimLost:
                log.warning("another copy claimed %s again: stopped, sending nothing more", order_key)
                return
            except Exception as error:
                if is_transient(error):  # the claim's lease brings it back
                    log.exception("acting on %s failed; it comes due again when its lease ends", order_key)
                else:
                    await self._put_aside(order_key, error)
            await self._let_go(lease)

    async def _let_go(self, lease: Lease) -> None:
        """Done with the order: its claim goes, its time stays (what the action scheduled, or the lease end)."""
        if lease.done:
            return
        try:
            await lease.release()
        except Exception:  # Redis away: the lease runs out by itself
            log.exception("could not let go of %s; it comes due again when its lease ends", lease.member)

    async def _put_aside(self, order_key: str, error: Exception) -> None:
        try:
            await set_aside(self._set_aside, self._store.timers, "scheduler", order_key, error, self._clock())
        except Exception:  # Redis away meanwhile: the lease brings it back, to fail and be set aside again
            log.exception("could not set %s aside; it comes due again when its lease ends", order_key)

    async def act(self, order_key: str) -> None:
        """Act on one order now, whatever its time (tests, an operator's retry); nothing if another copy holds it."""
        lease = await self.leases.take(order_key)
        if lease is None:
            log.info("%s is held by another copy: left to it", order_key)
            return
        try:
            await self._act(order_key, lease)
        finally:
            await self._let_go(lease)

    async def _act(self, order_key: str, lease: Lease) -> None:
        state = await self._store.state(order_key)
        if policy.is_over(state):
            await self._outbox.publish_emailed(order_key, state, lease)  # emails that went out before: their events
            await forget(self._store, order_key, self._clock())
            return
        if not await self._outbox.finish(order_key, state, lease):
            return
        step = policy.next_step(state, self._clock(), self._ttl)  # decided once what was queued is out
        if isinstance(step, WaitUntil):
            await lease.release(step.at)
            return
        if isinstance(step, Forget):  # not from a state just read as pending: the next action forgets it
            return
        if not await self._take(order_key, state, step, lease.claim.fence):
            return  # another copy took this step, or the order moved on; its schedule stands
        state = await self._store.state(order_key)
        if await self._outbox.finish(order_key, state, lease):
            await lease.release(policy.wakeup(state))

    async def _take(
        self, order_key: str, state: LinkState, step: IssueLink | SendReminder | EndReminders, fence: str
    ) -> bool:
        """The step, recorded only while this copy still holds the order under `fence`."""
        if isinstance(step, IssueLink):
            return await self._issue(order_key, step, fence)
        if isinstance(step, SendReminder):
            return await self._remind(order_key, state, step, fence)
        return await self._store.remind(order_key, state.seq, state.reminded, step.count, True, None, fence=fence)

    async def _issue(self, order_key: str, step: IssueLink, fence: str) -> bool:
        request, token = step.request, new_token()
        link = PersonalizationLinkIssued(
            order_key=order_key,
            occurred_at=step.issued_at,
            link_id=str(uuid.uuid4()),
            url=link_url(self._public_url, token),
            expires_at=step.expires,
            sequence=step.sequence,
            merchant_email=request.merchant_email,
            store_id=request.store_id,
            platform=request.platform,
            order_number=request.order_number,
            is_test=request.is_test,
            recipient=addressee(request.platform, request.merchant_email, request.delivery).recipient,
            items=request.items,
        )
        expired = _expired_event(order_key, request, step.replaces, step.issued_at) if step.replaces else None
        entry = LinkEntry(
            id=link.link_id,
            link_id=link.link_id,
            sequence=step.sequence,
            event=link,
            expired=expired,
            delivery=request.delivery,
        )
        # The reminders need the link itself, token and all: kept only while some are still to come.
        live = LiveLink(link, request.delivery) if step.remind_at else None
        new = NewLink(entry, token_hash(token), step.expires, step.remind_at, live)
        issued = await self._store.issue(order_key, step.sequence - 1, new, fence=fence)
        if issued:
            log.info(
                "issued link %d for %s to the %s, expires %s, %d reminder(s)",
                step.sequence,
                order_key,
                link.recipient,
                step.expires.isoformat(),
                len(step.remind_at),
            )
        return issued

    async def _remind(self, order_key: str, state: LinkState, step: SendReminder, fence: str) -> bool:
        link = step.live.link
        entry = QueuedReminder(
            id=f"{link.link_id}:reminder-{step.number}",
            sequence=state.seq,
            reminder=step.number,
            link=link,
            delivery=step.live.delivery,
        )
        queued = await self._store.remind(
            order_key, state.seq, state.reminded, step.number, step.last, entry, fence=fence
        )
        if queued and step.number > state.reminded + 1:
            log.info(
                "skipped overdue reminder(s) %d-%d of %s: only the latest is sent",
                state.reminded + 1,
                step.number - 1,
                order_key,
            )
        return queued


def _expired_event(
    order_key: str, request: PersonalizationRequested, expired: ExpiredLink, now: datetime
) -> PersonalizationLinkExpired:
    return PersonalizationLinkExpired(
        order_key=order_key,
        occurred_at=now,
        link_id=expired.link_id,
        sequence=expired.sequence,
        store_id=request.store_id,
        platform=request.platform,
        order_number=request.order_number,
        is_test=request.is_test,
        expired_at=expired.expired_at,
    )
